"""The RQ job names: every one resolves, and jobs an earlier release queued still run.

RQ stores a job as the dotted name of its function and its arguments; a queue (and the failed
registry, kept a year) may hold jobs across an upgrade. So every name in `intake.queue.JOBS` and
`LEGACY_JOBS` must import the way RQ imports it (`rq.utils.import_attribute`), and jobs queued
under the old names, with the payloads the old doors made, must run to completion on a real
worker against real Redis. The payloads below are written out as the release before
`intake.tasks.receive` made them (see `git show 088d068^:channels/sms.py` and friends), not built
with today's code, so a change to today's doors cannot quietly change what is tested here.
"""

from __future__ import annotations

import email.policy
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.utils import import_attribute

from intake.models import InboundMessage
from intake.queue import JOBS, LEGACY_JOBS, queue_name, safe_job_id
from intake.runtime import Runtime
from tests.channels.email.smtp_support import INTAKE_ADDRESS, RecordingRelay, email_settings
from tests.channels.voice.calls import ROUTINE as VOICEMAIL
from tests.channels.voice.calls import Call
from tests.conftest import ACCOUNT_SID, FROM_NUMBER
from tests.support.twilio_standin import TwilioStandIn
from worker import build_worker


@pytest.mark.parametrize("name", [*JOBS, *LEGACY_JOBS])
def test_every_job_name_resolves_to_a_callable(name: str) -> None:
    assert callable(import_attribute(name))


def test_no_job_name_is_both_current_and_legacy() -> None:
    assert len({*JOBS, *LEGACY_JOBS}) == len(JOBS) + len(LEGACY_JOBS)


# -- jobs queued by an earlier release ----------------------------------------------------------


def now() -> str:
    return datetime.now(UTC).isoformat()


def enqueue_legacy(runtime: Runtime, name: str, *args: Any) -> Job:
    """Queue a job the way the earlier release did: by name, on `<prefix>-default`."""
    queue = Queue(queue_name(runtime.settings, "default"), connection=runtime.redis)
    job_id = safe_job_id(runtime.settings.queue_prefix, "legacy", secrets.token_hex(6))
    return queue.enqueue(name, *args, job_id=job_id, failure_ttl=3600, result_ttl=3600)


def run_to_completion(runtime: Runtime, jobs: list[Job]) -> None:
    """A real worker drains the queue; every job must finish, none be left failed."""
    build_worker(runtime, simple=True).work(burst=True)
    queue = Queue(queue_name(runtime.settings, "default"), connection=runtime.redis)
    failed = FailedJobRegistry(queue=queue).get_job_ids()
    assert failed == [], [Job.fetch(i, connection=runtime.redis).exc_info for i in failed]
    for job in jobs:
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED, (job.func_name, job.get_status())


def sms_payload_of_the_earlier_release(sid: str, sender: str, body: str) -> dict[str, Any]:
    """`InboundMessage.to_payload()` as the earlier release had it: seven keys, no more."""
    return {
        "channel": "sms",
        "provider_id": sid,
        "sender": sender,
        "recipient": FROM_NUMBER,
        "body": body,
        "received_at": now(),
        "meta": {"AccountSid": ACCOUNT_SID, "NumMedia": "0"},
    }


def sms_payload_of_this_release(sid: str, sender: str, body: str) -> dict[str, Any]:
    """Today's `to_payload()`: a job queued under the old name by a web process mid-upgrade."""
    message = InboundMessage(
        "sms", sid, sender, FROM_NUMBER, body, meta={"AccountSid": ACCOUNT_SID, "NumMedia": "0"}
    )
    return message.to_payload()


@pytest.mark.parametrize(
    "payload_of",
    [sms_payload_of_the_earlier_release, sms_payload_of_this_release],
    ids=["earlier release's payload", "this release's payload"],
)
def test_process_inbound_with_an_sms_payload_still_runs(
    runtime: Runtime, twilio: TwilioStandIn, payload_of: Any
) -> None:
    sid, sender = "SM" + secrets.token_hex(16), "+447700900310"
    body = "Hello, I'd like an advocate for my mum's care review next month please."
    job = enqueue_legacy(runtime, "intake.tasks.process_inbound", payload_of(sid, sender, body))
    run_to_completion(runtime, [job])

    referral = runtime.store.find_referral_for_message("sms", sid)
    assert referral is not None
    assert (referral.channel, referral.sender, referral.raw_text) == ("sms", sender, body)
    [ack] = [m.value("Body") for m in twilio.messages if m.value("To") == sender]
    assert referral.reference in ack
    assert job.return_value()["reference"] == referral.reference


def test_process_email_with_the_smtp_servers_payload_still_runs(
    runtime: Runtime, relay: RecordingRelay
) -> None:
    runtime.settings = email_settings(runtime, relay.url)  # the relay the acknowledgement uses
    message = EmailMessage()
    message["From"] = "Sam Carter <sam.carter@example.org.uk>"
    message["To"] = INTAKE_ADDRESS
    message["Subject"] = "Referral for my brother"
    message["Message-ID"] = "<legacy-email-1@example.org.uk>"
    message.set_content(
        "Hello, my brother Lee has a learning disability and a care review next month. "
        "Could an advocate help him say what he wants?\n"
    )
    payload = {  # what the SMTP server's handle_DATA queued
        "raw": message.as_bytes(policy=email.policy.SMTP),
        "envelope_from": "sam.carter@example.org.uk",
        "rcpt_tos": [INTAKE_ADDRESS],
        "peer": "127.0.0.1",
        "received_at": now(),
    }
    job = enqueue_legacy(runtime, "intake.tasks.process_email", payload)
    run_to_completion(runtime, [job])

    referral = runtime.store.find_referral_for_message("email", "legacy-email-1@example.org.uk")
    assert referral is not None
    assert referral.channel == "email" and referral.sender == "sam.carter@example.org.uk"
    assert "care review" in referral.raw_text
    [ack] = relay.received
    assert ack.rcpt_tos == ["sam.carter@example.org.uk"]
    assert referral.reference in str(ack.message["Subject"])


# The voice door of the earlier release kept these form fields (and an empty `From`), plus
# `received_at`: its `event_from_form`.
EARLIER_VOICE_FIELDS = (
    "CallSid", "AccountSid", "From", "To", "CallStatus", "CallDuration", "Direction",
    "FromCountry", "Digits", "DialCallStatus", "RecordingSid", "RecordingUrl", "RecordingStatus",
    "RecordingDuration", "TranscriptionSid", "TranscriptionStatus", "TranscriptionText",
    "TranscriptionUrl",
)  # fmt: skip


def voice_event_of_the_earlier_release(form: Mapping[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = {k: str(form[k]) for k in EARLIER_VOICE_FIELDS if form.get(k)}
    if "From" in form:
        event["From"] = str(form["From"])
    event["received_at"] = now()
    return event


def test_process_voice_event_with_a_calls_callbacks_still_runs(
    runtime: Runtime, twilio: TwilioStandIn
) -> None:
    call = Call(caller="+447700900311")
    callbacks = [
        ("call_started", call.incoming()),
        ("recording", call.recording(29)),
        ("transcription", call.transcription(VOICEMAIL)),
    ]
    jobs = [  # in the order Twilio called back, on one queue: run in that order
        enqueue_legacy(
            runtime,
            "intake.tasks.process_voice_event",
            kind,
            voice_event_of_the_earlier_release(form),
        )
        for kind, form in callbacks
    ]
    run_to_completion(runtime, jobs)

    referral = runtime.store.find_referral_for_message("voice", call.call_sid)
    assert referral is not None
    assert referral.channel == "voice" and referral.sender == call.caller
    assert referral.raw_text == VOICEMAIL
    assert referral.fields["voicemail"]["recording_duration"] == 29
    assert referral.fields["voicemail"]["transcript_status"] == "completed"
    [ack] = [m.value("Body") for m in twilio.messages if m.value("To") == call.caller]
    assert referral.reference in ack


def test_check_overdue_job_still_runs(runtime: Runtime) -> None:
    job = enqueue_legacy(runtime, "intake.sla.check_overdue_job")
    run_to_completion(runtime, [job])
    assert job.return_value() == []  # no on-call manager configured: nothing to alert
