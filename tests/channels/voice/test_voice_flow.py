"""A call end to end: signed webhooks on the live app, a real RQ worker on real Redis, the Twilio
stand-in recording the acknowledgement texts. Callbacks in every order, duplicates, failures."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from channels.voice import calls as voicemail
from intake.models import Referral
from intake.runtime import Runtime
from tests.channels.voice.calls import (
    DONT_TEXT,
    EMERGENCY,
    ROUTINE,
    URGENT,
    Call,
    drain,
    post,
    queued,
)
from tests.conftest import API_TOKEN
from tests.support.twilio_standin import TwilioStandIn

PATHS = {
    "incoming": "/twilio/voice",
    "recording": "/twilio/voice/recording",
    "transcription": "/twilio/voice/transcription",
    "status": "/twilio/voice/status",
    "menu": "/twilio/voice/menu",
}


def send(http: httpx.Client, url: str, kind: str, form: dict[str, str]) -> None:
    response = post(http, url, PATHS[kind], form)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")


def referral_for(runtime: Runtime, call: Call) -> Referral:
    referral = runtime.store.find_referral_for_message("voice", call.call_sid)
    assert referral is not None
    return referral


def voice_referrals(runtime: Runtime) -> list[Referral]:
    return runtime.store.list_referrals(channel="voice", limit=100)


def texts_to(twilio: TwilioStandIn, number: str) -> list[str]:
    return [m.value("Body") for m in twilio.messages if m.value("To") == number]


@pytest.mark.parametrize("order", ["recording first", "transcription first"])
def test_one_referral_per_call_whichever_callback_comes_first(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn, order: str
) -> None:
    call = Call(caller="+447700900201")
    send(http, live_url, "incoming", call.incoming())
    drain(runtime)
    callbacks = [("recording", call.recording(31)), ("transcription", call.transcription(URGENT))]
    if order == "transcription first":
        callbacks.reverse()
    for kind, form in callbacks:
        send(http, live_url, kind, form)
        drain(runtime)  # each callback handled on its own, in this order
    send(http, live_url, "status", call.status())
    drain(runtime)

    [referral] = voice_referrals(runtime)
    assert referral.raw_text == URGENT
    assert referral.urgency == "urgent"
    assert referral.sender == call.caller
    voicemail_fields = referral.fields["voicemail"]
    assert voicemail_fields["recording_url"] == call.recording_url
    assert voicemail_fields["recording_duration"] == 31
    assert voicemail_fields["transcript_status"] == "completed"
    [message] = runtime.store.messages_for(referral.id or 0)
    assert message["provider_id"] == call.call_sid
    assert message["body"] == URGENT
    assert message["meta"]["recording_url"] == call.recording_url
    assert message["meta"]["recording_duration"] == 31
    [ack] = texts_to(twilio, call.caller)
    assert referral.reference in ack and "voicemail" in ack
    assert runtime.store.calls.missed() == []


def test_duplicate_callbacks_change_nothing(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    call = Call(caller="+447700900202")
    send(http, live_url, "incoming", call.incoming())
    for _ in range(2):
        send(http, live_url, "recording", call.recording(40))
        send(http, live_url, "transcription", call.transcription(ROUTINE))
    drain(runtime)
    send(http, live_url, "transcription", call.transcription(ROUTINE))
    send(http, live_url, "recording", call.recording(40))
    drain(runtime)
    [referral] = voice_referrals(runtime)
    assert len(runtime.store.messages_for(referral.id or 0)) == 1
    assert referral.raw_text == ROUTINE
    assert len(texts_to(twilio, call.caller)) == 1
    assert [o["kind"] for o in runtime.store.outbound_for(referral.id or 0)] == ["ack"]


def test_two_workers_racing_on_both_callbacks_make_one_referral(
    runtime: Runtime, twilio: TwilioStandIn
) -> None:
    """The recording and the transcript handled at the same moment by two workers."""
    call = Call(caller="+447700900203")
    voicemail.call_started(runtime, {**call.incoming(), "received_at": "2025-12-09T10:15:00+00:00"})
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run(kind: str, form: dict[str, str]) -> None:
        try:
            barrier.wait()
            results.append(voicemail.handle_event(runtime, kind, form))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=("recording", call.recording(25))),
        threading.Thread(target=run, args=("transcription", call.transcription(URGENT))),
        threading.Thread(target=run, args=("recording", call.recording(25))),
        threading.Thread(target=run, args=("transcription", call.transcription(URGENT))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    [referral] = voice_referrals(runtime)
    assert referral.raw_text == URGENT and referral.urgency == "urgent"
    assert referral.fields["voicemail"]["recording_duration"] == 25
    assert len(texts_to(twilio, call.caller)) == 1


def test_failed_transcription_flags_the_referral_for_listening(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    call = Call(caller="+447700900204")
    send(http, live_url, "incoming", call.incoming())
    send(http, live_url, "recording", call.recording(55))
    drain(runtime)
    pending = referral_for(runtime, call)
    assert pending.fields["voicemail"]["transcript_status"] == "pending"
    assert pending.urgency == "routine"

    send(http, live_url, "transcription", call.transcription("", status="failed"))
    drain(runtime)
    referral = referral_for(runtime, call)
    assert referral.fields["voicemail"]["transcript_status"] == "unavailable"
    assert referral.screening["needs_review"] is True
    assert "listen to recording" in referral.screening["review_reason"]
    assert "listen to recording" in referral.raw_text
    assert referral.urgency == "urgent"  # unheard: not left in the routine pile
    # Nobody knows whether the message says "don't text me": no text by default.
    assert texts_to(twilio, call.caller) == []


def test_failed_transcription_acknowledges_when_configured(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    runtime.settings = runtime.settings.with_(voice_ack_without_transcript=True)
    call = Call(caller="+447700900205")
    send(http, live_url, "incoming", call.incoming())
    send(http, live_url, "recording", call.recording(20))
    send(http, live_url, "transcription", call.transcription("", status="failed"))
    drain(runtime)
    assert len(texts_to(twilio, call.caller)) == 1


def test_transcript_that_never_arrives_is_flagged_by_the_timeout_job(
    runtime: Runtime, live_url: str, http: httpx.Client
) -> None:
    call = Call(caller="+447700900206")
    send(http, live_url, "incoming", call.incoming())
    send(http, live_url, "recording", call.recording(33))
    drain(runtime)
    recorded = runtime.store.calls.get(call.call_sid)
    assert recorded is not None and recorded["recording_at"] is not None
    deadline = recorded["recording_at"] + timedelta(
        seconds=runtime.settings.voice_transcript_timeout
    )

    second = timedelta(seconds=1)
    early = voicemail.transcript_timeout(runtime, call.call_sid, now=deadline - second)
    assert early["flagged"] is False
    assert referral_for(runtime, call).fields["voicemail"]["transcript_status"] == "pending"

    late = voicemail.transcript_timeout(runtime, call.call_sid, now=deadline + second)
    assert late["flagged"] is True
    referral = referral_for(runtime, call)
    assert referral.fields["voicemail"]["transcript_status"] == "unavailable"
    assert referral.screening["needs_review"] is True

    # A transcript that turns up after all replaces the flag and is screened.
    send(http, live_url, "transcription", call.transcription(EMERGENCY))
    drain(runtime)
    referral = referral_for(runtime, call)
    assert referral.fields["voicemail"]["transcript_status"] == "completed"
    assert referral.urgency == "emergency"
    assert referral.raw_text == EMERGENCY


def test_timeout_runs_as_a_scheduled_job_on_the_worker(
    runtime: Runtime, live_url: str, http: httpx.Client
) -> None:
    runtime.settings = runtime.settings.with_(voice_transcript_timeout=1)
    call = Call(caller="+447700900207")
    send(http, live_url, "incoming", call.incoming())
    send(http, live_url, "recording", call.recording(33))
    drain(runtime)
    assert referral_for(runtime, call).fields["voicemail"]["transcript_status"] == "pending"
    time.sleep(1.5)  # let the delayed job fall due; the scheduler then moves it to the queue
    drain(runtime, with_scheduler=True)
    referral = referral_for(runtime, call)
    assert referral.fields["voicemail"]["transcript_status"] == "unavailable"
    assert referral.screening["review_reason"] == voicemail.TRANSCRIPT_UNAVAILABLE


def test_emergency_transcript_gets_the_emergency_text(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    call = Call(caller="+447700900208")
    send(http, live_url, "incoming", call.incoming())
    send(http, live_url, "recording", call.recording(18))
    send(http, live_url, "transcription", call.transcription(EMERGENCY))
    drain(runtime)
    referral = referral_for(runtime, call)
    assert referral.urgency == "emergency"
    [ack] = texts_to(twilio, call.caller)
    assert ack.startswith("If you or someone else is in danger now, call 999")


def test_transcript_saying_do_not_text_is_honoured(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    call = Call(caller="+447700900209")
    send(http, live_url, "incoming", call.incoming())
    send(http, live_url, "recording", call.recording(18))
    send(http, live_url, "transcription", call.transcription(DONT_TEXT))
    drain(runtime)
    assert referral_for(runtime, call).safe_to_contact is False
    assert texts_to(twilio, call.caller) == []


@pytest.mark.parametrize("caller", ["anonymous", "+266696687", "Restricted", ""])
def test_withheld_number_is_recorded_and_gets_no_text(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn, caller: str
) -> None:
    call = Call(caller=caller)
    send(http, live_url, "incoming", call.incoming())
    send(http, live_url, "recording", call.recording(22))
    send(http, live_url, "transcription", call.transcription(ROUTINE))
    drain(runtime)
    referral = referral_for(runtime, call)
    assert referral.sender == "withheld"
    assert referral.fields["voicemail"]["withheld"] is True
    [message] = runtime.store.messages_for(referral.id or 0)
    assert message["meta"]["withheld"] is True
    assert twilio.messages == []


def test_landline_caller_gets_no_text(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    call = Call(caller="+441632960001")
    send(http, live_url, "incoming", call.incoming())
    send(http, live_url, "recording", call.recording(22))
    send(http, live_url, "transcription", call.transcription(ROUTINE))
    drain(runtime)
    assert referral_for(runtime, call).sender == call.caller
    assert twilio.messages == []


def test_menu_danger_choice_dials_on_call_and_makes_an_emergency_that_stays_one(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    import xml.etree.ElementTree as ET

    on_call = "+447700900999"
    runtime.settings = runtime.settings.with_(voice_menu=True, voice_on_call_number=on_call)
    call = Call(caller="+447700900210")
    answer = post(http, live_url, "/twilio/voice", call.incoming())
    assert ET.fromstring(answer.text).find("Gather") is not None
    menu = post(http, live_url, "/twilio/voice/menu", call.menu("1"))
    assert menu.status_code == 200
    dial = ET.fromstring(menu.text).find("Dial")
    assert dial is not None and (dial.text or "").strip() == on_call
    drain(runtime)

    referral = referral_for(runtime, call)
    assert referral.urgency == "emergency"
    assert referral.fields["voicemail"]["menu_choice"] == "danger"
    assert referral.screening["urgency_floor"] == "emergency"  # the keypad, not the words
    assert texts_to(twilio, call.caller) == []  # they are on the phone with the on-call worker

    # Nobody answered; the caller left a calm voicemail. Still an emergency.
    dialled = post(
        http, live_url, "/twilio/voice/dialled", {**call.menu("1"), "DialCallStatus": "no-answer"}
    )
    assert ET.fromstring(dialled.text).find("Record") is not None
    send(http, live_url, "recording", call.recording(30))
    send(http, live_url, "transcription", call.transcription(ROUTINE))
    drain(runtime)
    [referral] = voice_referrals(runtime)
    assert referral.urgency == "emergency"
    assert referral.raw_text == ROUTINE
    assert referral.fields["voicemail"]["menu_choice"] == "danger"
    [ack] = texts_to(twilio, call.caller)
    assert "999" in ack


def test_other_menu_key_records_a_voicemail_not_an_emergency(
    runtime: Runtime, live_url: str, http: httpx.Client
) -> None:
    runtime.settings = runtime.settings.with_(voice_menu=True, voice_on_call_number="+447700900999")
    call = Call(caller="+447700900211")
    send(http, live_url, "incoming", call.incoming())
    send(http, live_url, "menu", call.menu("2"))
    drain(runtime)
    assert runtime.store.find_referral_for_message("voice", call.call_sid) is None
    send(http, live_url, "recording", call.recording(30))
    send(http, live_url, "transcription", call.transcription(ROUTINE))
    drain(runtime)
    assert referral_for(runtime, call).urgency != "emergency"


@pytest.mark.parametrize("path", sorted(set(PATHS.values()) | {"/twilio/voice/dialled"}))
@pytest.mark.parametrize("signature", ["", "forged"])
def test_forged_or_unsigned_callbacks_are_refused(
    runtime: Runtime, live_url: str, http: httpx.Client, path: str, signature: str
) -> None:
    call = Call()
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = http.post(live_url + path, data=call.transcription(EMERGENCY), headers=headers)
    assert response.status_code == 403
    assert queued(runtime) == 0


def test_hang_up_without_a_message_is_a_missed_call_not_a_referral(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    hung_up = Call(caller="+447700900212")
    send(http, live_url, "incoming", hung_up.incoming())
    send(http, live_url, "status", hung_up.status(duration=6))
    too_short = Call(caller="+447700900213")
    send(http, live_url, "incoming", too_short.incoming())
    send(http, live_url, "recording", too_short.recording(duration=1))
    send(http, live_url, "status", too_short.status(duration=9))
    silent = Call(caller="anonymous")
    send(http, live_url, "incoming", silent.incoming())
    send(http, live_url, "recording", silent.recording(duration=0, status="absent"))
    left_message = Call(caller="+447700900214")
    send(http, live_url, "incoming", left_message.incoming())
    send(http, live_url, "status", left_message.status(duration=50))  # before the recording
    drain(runtime)
    send(http, live_url, "recording", left_message.recording(duration=35))
    send(http, live_url, "transcription", left_message.transcription(ROUTINE))
    drain(runtime)

    assert [r.sender for r in voice_referrals(runtime)] == [left_message.caller]
    assert texts_to(twilio, hung_up.caller) == [] and texts_to(twilio, too_short.caller) == []

    assert http.get(live_url + "/api/missed-calls").status_code == 401
    response = http.get(
        live_url + "/api/missed-calls", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert response.status_code == 200
    missed = {item["call_sid"]: item for item in response.json()["missed_calls"]}
    assert set(missed) == {hung_up.call_sid, too_short.call_sid, silent.call_sid}
    assert missed[hung_up.call_sid]["caller"] == hung_up.caller
    assert missed[hung_up.call_sid]["reason"] == "hung up without leaving a message"
    assert missed[too_short.call_sid]["reason"] == "recording too short"
    assert missed[silent.call_sid]["withheld"] is True
    assert missed[silent.call_sid]["caller"] is None

    called = http.post(
        live_url + f"/api/missed-calls/{missed[hung_up.call_sid]['id']}/called-back",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    assert called.status_code == 200
    after = http.get(
        live_url + "/api/missed-calls", headers={"Authorization": f"Bearer {API_TOKEN}"}
    ).json()["missed_calls"]
    assert hung_up.call_sid not in {item["call_sid"] for item in after}
    actions = [row["action"] for row in runtime.store.audit_for()]
    assert "missed_calls.listed" in actions and "missed_call.called_back" in actions


def test_recording_before_the_call_is_known_waits_for_it(runtime: Runtime) -> None:
    """The recording callback has no From: run outside RQ, it keeps the voicemail anyway."""
    call = Call(caller="+447700900215")
    voicemail.handle_event(runtime, "recording", call.recording(20))
    voicemail.handle_event(runtime, "transcription", call.transcription(ROUTINE))
    referral = referral_for(runtime, call)
    assert referral.raw_text == ROUTINE
    stored = runtime.store.calls.get(call.call_sid)
    assert stored is not None and stored["sender"] == call.caller


def test_redis_unreachable_answers_503(runtime: Runtime, http: httpx.Client) -> None:
    from intake.queue import connect
    from intake.web.app import create_app
    from tests.support.servers import free_port, serve

    runtime.redis = connect(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    call = Call()
    with serve(create_app(runtime)) as url:
        assert post(http, url, "/twilio/voice", call.incoming()).status_code == 503
        assert post(http, url, "/twilio/voice/recording", call.recording()).status_code == 503


@pytest.mark.parametrize("call_id", ["0", "-3", "abc", str(2**64), "9" * 40])
def test_marking_a_missed_call_that_cannot_exist_is_404(
    live_url: str, http: httpx.Client, call_id: str
) -> None:
    """Found by schemathesis: a huge id overflowed SQLite's INTEGER and answered 500."""
    response = http.post(
        live_url + f"/api/missed-calls/{call_id}/called-back",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    assert response.status_code == 404
