"""The worker's side of voicemail: one call's callbacks, in any order, to one message.

A call produces several events: it starts (the caller's number), perhaps a keypad choice, a
recording (URL, duration), a transcript (or its failure), and how the call ended. They arrive on
separate webhooks and can be run by different workers in any order, more than once. Each event is
applied to the call's row in `voice_calls` under a per-call Redis lock (`accept`), and while the
lock is held the call is handed to the pipeline as one `InboundMessage` whose provider id is the
CallSid: the first time it makes the referral, later times revise that message (the transcript
arrives), and the pipeline's absorb policy screens it again. Urgency is never lowered
automatically, and the emergency keypad choice keeps a referral an emergency (`urgency_floor`).

A voicemail whose transcript is still to come is `pending`: stored and screened, forwarded once
the transcript is in or has failed (an emergency goes at once). Calls with no recording, or one
shorter than `VOICE_MIN_RECORDING_SECONDS`, are missed calls: kept in `voice_calls` for the
call-back list, never referrals.

The caller gets one acknowledgement text, once the transcript has been screened (so "don't ring or
text me" in the message is honoured), only on a UK mobile number that was not withheld.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rq import get_current_job

from channels.voice import twiml
from intake import acknowledge, communication, pipeline
from intake.acknowledge import Plan, Skip
from intake.channel import Handled, Outcome
from intake.models import SYSTEM_ACTOR, InboundMessage, Referral, received_at_from, utcnow
from intake.queue import (
    INBOUND_RETRY,
    VOICE_TRANSCRIBE,
    VOICE_TRANSCRIPT_TIMEOUT,
    enqueue,
    safe_job_id,
)
from intake.runtime import Runtime
from intake.transcription import Recording, Transcript, engine_for

log = logging.getLogger(__name__)

CHANNEL = "voice"
MENU_DANGER = "danger"
TRANSCRIPT_UNAVAILABLE = "transcript unavailable — listen to recording"
WITHHELD_SENDER = "withheld"
LOCK_TIMEOUT = 120  # seconds a lock may be held before Redis frees it (a killed worker)
LOCK_WAIT = 60
REFERRAL_OUTCOMES = ("voicemail", "emergency")
# What carriers and Twilio put in `From` when the number is hidden: words, and the same words
# spelt on a keypad (ANONYMOUS, RESTRICTED, UNAVAILABLE, BLOCKED, UNKNOWN, PRIVATE).
WITHHELD_VALUES = frozenset(
    {"", "anonymous", "restricted", "unavailable", "unknown", "private", "blocked", "withheld"}
)
WITHHELD_DIGITS = frozenset(
    {"266696687", "7378742833", "86282452253", "2562533", "8656696", "7748283"}
)


# UK mobiles: +44 71-75, 77-79 and 7624 (Isle of Man); 70 (personal numbers) and 76 (pagers)
# are not phones that can take a text (Ofcom's National Telephone Numbering Plan).
_UK_MOBILE = re.compile(r"^\+447(?:[1-57-9]\d{8}|624\d{6})$")


def is_uk_mobile(number: str) -> bool:
    """Whether a caller ID is a UK mobile number in E.164 (pure)."""
    return bool(_UK_MOBILE.match(number.replace(" ", "")))


class CallNotKnownYet(Exception):
    """An event without the caller's number came before the call's first event: retry soon."""


def is_withheld(number: str | None) -> bool:
    """Whether Twilio's `From` means the caller hid their number (pure)."""
    value = (number or "").strip().lower()
    return value in WITHHELD_VALUES or value.lstrip("+") in WITHHELD_DIGITS


def _received_at(event: Mapping[str, Any]) -> datetime:
    return received_at_from(event.get("received_at"))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Applied:
    """What one event did to its call: the row as it now is, whether the pipeline should see
    the call (`message`), and an audit entry to write once the referral is known."""

    call: dict[str, Any]
    message: bool = True
    audit: tuple[str, dict[str, Any]] | None = None


def _call(runtime: Runtime, event: Mapping[str, Any]) -> dict[str, Any]:
    """The call's row; events carrying `From` make it, the others wait for one that does."""
    call_sid = str(event["CallSid"])
    existing = runtime.store.calls.get(call_sid)
    if "From" not in event and existing is None:
        job = get_current_job()
        if job is not None and (job.retries_left or 0) > 0:
            raise CallNotKnownYet(call_sid)
        # Out of retries: keep the voicemail with an unknown caller rather than lose it.
    sender = str(event.get("From") or "")
    withheld = "From" in event and is_withheld(sender)
    return runtime.store.calls.ensure(
        call_sid,
        sender=WITHHELD_SENDER if withheld else sender,
        recipient=str(event.get("To") or ""),
        withheld=withheld,
        started_at=_received_at(event),
    )


def _reload(runtime: Runtime, call_sid: str) -> dict[str, Any]:
    call = runtime.store.calls.get(call_sid)
    assert call is not None
    return call


# -- the call as the pipeline's message ---------------------------------------------------------


def _note(call: Mapping[str, Any]) -> str:
    """What the referral says while there is no transcript."""
    if call["menu_choice"] == MENU_DANGER:
        return "Caller pressed 1 (someone is in danger now): put through to the on-call number."
    if call["transcript_status"] == "unavailable":
        return f"Voicemail: {TRANSCRIPT_UNAVAILABLE}."
    if call["transcript_status"] == "completed":
        return "Voicemail: transcribed."
    return "Voicemail: transcript pending."


def message_for(call: Mapping[str, Any]) -> InboundMessage:
    """The call as one `InboundMessage`: the transcript is the text that is screened."""
    status = call["transcript_status"] or "none"
    meta = {
        key: call[key]
        for key in (
            "recording_url",
            "recording_sid",
            "recording_duration",
            "transcript_status",
            "transcript_engine",
            "menu_choice",
        )
        if call.get(key) is not None
    }
    meta["withheld"] = bool(call["withheld"])
    danger = call["menu_choice"] == MENU_DANGER
    unavailable = status == "unavailable"
    return InboundMessage(
        channel=CHANNEL,
        provider_id=call["call_sid"],
        sender=call["sender"],
        recipient=call["recipient"],
        body=call["transcript"] or _note(call),
        placeholder=not call["transcript"],
        received_at=call["started_at"],
        meta=meta,
        pending=status in ("pending", "none"),
        urgency_floor="emergency" if danger else ("urgent" if unavailable else None),
        # Nobody knows what the message says until someone listens: not a routine wait.
        review_reason=TRANSCRIPT_UNAVAILABLE if unavailable else None,
        facts={
            "voicemail": {
                "recording_url": call["recording_url"],
                "recording_duration": call["recording_duration"],
                "transcript_status": status,
                "transcript_engine": call["transcript_engine"],
                "menu_choice": call["menu_choice"],
                "withheld": bool(call["withheld"]),
                "note": _note(call),
            }
        },
    )


def acknowledgement(runtime: Runtime, referral: Referral, message: InboundMessage) -> Plan | Skip:
    """One text to the caller once the transcript is screened (or has failed, if configured)."""
    if not referral.safe_to_contact:
        return Skip("not safe to contact")
    if not message.sender or message.meta.get("withheld"):
        return Skip("no number to reply to")
    if not is_uk_mobile(message.sender):
        return Skip("caller is not on a UK mobile: a landline cannot take a text")
    status = message.meta.get("transcript_status")
    if not (
        status == "completed"
        or (status == "unavailable" and runtime.settings.voice_ack_without_transcript)
    ):
        return Skip("waiting for the transcript")
    template = (
        "ack/voice_sms_emergency.txt" if referral.urgency == "emergency" else "ack/voice_sms.txt"
    )
    return Plan(
        channel="sms",
        to=message.sender,
        # "We will call you back" only to someone who can take a voice call (AIS).
        body=acknowledge.render(
            runtime.settings,
            template,
            referral,
            call_back=communication.voice_call_back(referral.fields),
        ),
        dedupe_key=acknowledge.ack_dedupe_key(referral, message.sender),
    )


def respond(runtime: Runtime, outcome: Outcome) -> str:
    plan = acknowledgement(runtime, outcome.referral, outcome.message)
    return acknowledge.deliver(runtime, outcome.referral, outcome.message, plan)


# -- the events ---------------------------------------------------------------------------------


def call_started(runtime: Runtime, event: Mapping[str, Any]) -> Applied:
    return Applied(_call(runtime, event))


def menu_choice(runtime: Runtime, event: Mapping[str, Any]) -> Applied:
    call_sid = str(event["CallSid"])
    digits = str(event.get("Digits") or "")
    danger = digits == twiml.MENU_DANGER_DIGIT and twiml.menu_enabled(runtime.settings)
    call = _call(runtime, event)
    if danger:
        runtime.store.calls.update(call_sid, menu_choice=MENU_DANGER, outcome="emergency")
    elif call["menu_choice"] != MENU_DANGER:
        runtime.store.calls.update(call_sid, menu_choice=f"pressed {digits}"[:16])
    audit = ("voice.menu_emergency", {"call": call_sid}) if danger else None
    return Applied(_reload(runtime, call_sid), audit=audit)


def dial_finished(runtime: Runtime, event: Mapping[str, Any]) -> Applied:
    call_sid = str(event["CallSid"])
    referral = runtime.store.find_referral_for_message(CHANNEL, call_sid)
    runtime.store.audit(
        SYSTEM_ACTOR,
        "voice.on_call_dialled",
        referral_id=referral.id if referral else None,
        detail={"call": call_sid, "dial_status": str(event.get("DialCallStatus") or "")},
    )
    return Applied(_call(runtime, event), message=False)


def recording(runtime: Runtime, event: Mapping[str, Any]) -> Applied:
    call_sid = str(event["CallSid"])
    settings = runtime.settings
    duration = _int(event.get("RecordingDuration"))
    usable = (
        event.get("RecordingStatus", "completed") == "completed"
        and bool(event.get("RecordingUrl"))
        and (duration or 0) >= settings.voice_min_recording_seconds
    )
    call = _call(runtime, event)
    if not usable:
        if call["outcome"] in ("in_progress", "missed") and not call["recording_url"]:
            runtime.store.calls.update(call_sid, outcome="missed", recording_duration=duration)
        return Applied(_reload(runtime, call_sid))
    if call["recording_url"] is None and call["transcript_status"] in (None, "pending"):
        # Before the row changes: if this fails, the retry sees a first recording again.
        _schedule_transcription(runtime, call_sid)
    runtime.store.calls.update(
        call_sid,
        recording_url=event["RecordingUrl"],
        recording_sid=event.get("RecordingSid") or call["recording_sid"],
        recording_duration=duration,
        recording_at=call["recording_at"] or _received_at(event),
        transcript_status=call["transcript_status"] or "pending",
        outcome="emergency" if call["outcome"] == "emergency" else "voicemail",
    )
    return Applied(_reload(runtime, call_sid), audit=("voice.recording", {"duration": duration}))


def _apply_transcript(
    runtime: Runtime, call_sid: str, transcript: Transcript, recording_url: str = ""
) -> Applied:
    """Record a transcript (or its failure); a later success beats a failure, never the reverse."""
    call = _reload(runtime, call_sid)
    values: dict[str, Any] = {}
    if not call["recording_url"] and recording_url:
        values.update(recording_url=recording_url, recording_at=utcnow())
    if call["outcome"] in ("in_progress", "missed") and not _too_short(runtime, call):
        values["outcome"] = "voicemail"
    if transcript.ok:
        values.update(
            transcript=transcript.text.strip(),
            transcript_status="completed",
            transcript_engine=transcript.engine,
        )
    elif call["transcript_status"] != "completed":
        values.update(transcript_status="unavailable", transcript_engine=transcript.engine)
    if values:
        runtime.store.calls.update(call_sid, **values)
    call = _reload(runtime, call_sid)
    detail = {"status": call["transcript_status"], "engine": transcript.engine}
    return Applied(call, audit=("voice.transcript", detail))


def _too_short(runtime: Runtime, call: Mapping[str, Any]) -> bool:
    duration = call["recording_duration"]
    return duration is not None and duration < runtime.settings.voice_min_recording_seconds


def transcription(runtime: Runtime, event: Mapping[str, Any]) -> Applied:
    """Twilio's transcription callback."""
    _call(runtime, event)
    status = str(event.get("TranscriptionStatus") or "")
    text = str(event.get("TranscriptionText") or "")
    transcript = Transcript(
        "completed" if status == "completed" and text.strip() else "failed",
        text=text,
        engine="twilio",
        detail=status,
    )
    return _apply_transcript(
        runtime, str(event["CallSid"]), transcript, str(event.get("RecordingUrl") or "")
    )


def transcript_result(runtime: Runtime, event: Mapping[str, Any]) -> Applied:
    """A transcript from a local engine, or the timeout's "none came" (queued by this module)."""
    transcript = Transcript(
        str(event["status"]),
        text=str(event.get("text") or ""),
        engine=str(event.get("engine") or ""),
        detail=str(event.get("detail") or ""),
    )
    return _apply_transcript(runtime, str(event["CallSid"]), transcript)


def call_ended(runtime: Runtime, event: Mapping[str, Any]) -> Applied:
    """Call status callback: a call that ends with no recording and no menu choice was missed."""
    call_sid = str(event["CallSid"])
    call = _call(runtime, event)
    values: dict[str, Any] = {
        "call_status": str(event.get("CallStatus") or "")[:24],
        "call_duration": _int(event.get("CallDuration")),
    }
    if call["outcome"] == "in_progress" and not call["recording_url"]:
        values["outcome"] = "missed"
    runtime.store.calls.update(call_sid, **values)
    call = _reload(runtime, call_sid)
    if call["outcome"] == "missed":
        log.info("missed call %s (%s)", call_sid, values["call_status"])
    return Applied(call, message=False)


EVENTS: dict[str, Callable[[Runtime, Mapping[str, Any]], Applied]] = {
    "call_started": call_started,
    "menu_choice": menu_choice,
    "dial_finished": dial_finished,
    "recording": recording,
    "transcription": transcription,
    "transcript": transcript_result,
    "call_ended": call_ended,
}


@contextmanager
def _locked(runtime: Runtime, call_sid: str) -> Iterator[None]:
    name = f"{runtime.settings.queue_prefix}:voice-lock:{call_sid}"
    with runtime.redis.lock(name, timeout=LOCK_TIMEOUT, blocking_timeout=LOCK_WAIT):
        yield


@contextmanager
def accept(runtime: Runtime, payload: Mapping[str, Any]) -> Iterator[InboundMessage | Handled]:
    """Apply one event to its call under the call's lock; while it is held, the pipeline sees the
    call as a message if it has become a voicemail (or an emergency), else the call is Handled."""
    kind = str(payload["kind"])
    event = dict(payload["event"])
    try:
        apply = EVENTS[kind]
    except KeyError:
        raise ValueError(f"unknown voice event {kind!r}") from None
    call_sid = str(event["CallSid"])
    with _locked(runtime, call_sid):
        applied = apply(runtime, event)
        call = applied.call
        if not applied.message or call["outcome"] not in REFERRAL_OUTCOMES:
            yield Handled(f"call {call['outcome']}")
            return
        yield message_for(call)
        if applied.audit is not None:
            referral = runtime.store.find_referral_for_message(CHANNEL, call_sid)
            action, detail = applied.audit
            runtime.store.audit(
                SYSTEM_ACTOR, action, referral_id=referral.id if referral else None, detail=detail
            )


def handle_event(runtime: Runtime, kind: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """Run one Twilio Voice callback through the pipeline (what the `receive` job does)."""
    return pipeline.receive(runtime, CHANNEL, {"kind": kind, "event": dict(event)}).to_dict()


# -- transcription that is not Twilio's, and transcripts that never come --------------------


def _schedule_transcription(runtime: Runtime, call_sid: str) -> None:
    """Start a local engine if one is configured; in any case, give up waiting after a while."""
    settings = runtime.settings
    if not engine_for(settings).twilio_transcribes:
        enqueue(
            settings,
            runtime.redis,
            VOICE_TRANSCRIBE,
            call_sid,
            job_id=safe_job_id(settings.queue_prefix, "voice-transcribe", call_sid),
            retry=INBOUND_RETRY,
        )
    enqueue(
        settings,
        runtime.redis,
        VOICE_TRANSCRIPT_TIMEOUT,
        call_sid,
        delay=timedelta(seconds=settings.voice_transcript_timeout),
        job_id=safe_job_id(settings.queue_prefix, "voice-timeout", call_sid),
    )


def _result(runtime: Runtime, call_sid: str, transcript: Transcript) -> dict[str, Any]:
    event = {
        "CallSid": call_sid,
        "status": transcript.status,
        "text": transcript.text,
        "engine": transcript.engine,
        "detail": transcript.detail,
    }
    return handle_event(runtime, "transcript", event)


def transcript_timeout(
    runtime: Runtime, call_sid: str, now: datetime | None = None
) -> dict[str, Any]:
    """Flag a voicemail whose transcript has not come within `VOICE_TRANSCRIPT_TIMEOUT`.

    `now` is the clock (tests pass one); a run before the deadline changes nothing.
    """
    call = runtime.store.calls.get(call_sid)
    if call is None or call["transcript_status"] != "pending":
        return {"call": call_sid, "flagged": False}
    started = call["recording_at"] or call["started_at"]
    deadline = started + timedelta(seconds=runtime.settings.voice_transcript_timeout)
    if (now or utcnow()) < deadline:
        return {"call": call_sid, "flagged": False, "due": deadline.isoformat()}
    log.warning("no transcript for %s in time: flagged for listening", call_sid)
    transcript = Transcript("failed", engine=call["transcript_engine"] or "", detail="timeout")
    result = _result(runtime, call_sid, transcript)
    flagged = _reload(runtime, call_sid)["transcript_status"] == "unavailable"
    return {**result, "call": call_sid, "flagged": flagged}


def transcribe(runtime: Runtime, call_sid: str) -> dict[str, Any]:
    """Run the configured local engine on the call's recording (a job of its own, no lock held:
    it can take minutes), then hand the result to the call like any other event."""
    call = runtime.store.calls.get(call_sid)
    if call is None or not call["recording_url"] or call["transcript_status"] == "completed":
        return {"call": call_sid, "transcript": call["transcript_status"] if call else None}
    engine = engine_for(runtime.settings)
    transcript = engine.transcribe(
        runtime.settings,
        Recording(
            call_sid=call_sid,
            url=call["recording_url"],
            sid=call["recording_sid"] or "",
            duration=call["recording_duration"],
        ),
    )
    return {**_result(runtime, call_sid, transcript), "call": call_sid}
