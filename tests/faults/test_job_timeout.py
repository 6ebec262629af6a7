"""A job that runs out of time fails safe (issue 15): the message is stored, unscreened, urgent
and flagged for a person; nothing is sent to the sender; the job is not retried; and no
`except Exception` on the way can swallow the deadline (it is a `BaseException`).

Real parts: the signed webhook or intake's SMTP server, Redis, a real RQ worker with its
deadline, the store. What stalls the job is real too: another text from the same number holding
its lock, an SMTP relay that never answers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from channels.email.parse import parse_email
from channels.sms.conversation import sender_lock
from intake.config import Settings
from intake.queue import PRIORITIES, JobDeadline, queue_name
from intake.runtime import Runtime
from tests.channels.email.smtp_support import INTAKE_ADDRESS, deliver, email_settings, intake_smtp
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.support.twilio_signing import post_signed
from tests.support.twilio_standin import TwilioStandIn
from worker import build_worker

DEADLINE = 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(inbound_job_timeout=DEADLINE)


def _failed_and_not_retried(runtime: Runtime) -> None:
    queues = [
        Queue(queue_name(runtime.settings, p), connection=runtime.redis) for p in PRIORITIES
    ]
    assert sum(len(FailedJobRegistry(queue=q)) for q in queues) == 1  # where a person sees it
    assert sum(len(ScheduledJobRegistry(queue=q)) + q.count for q in queues) == 0  # no retry


def test_a_text_whose_job_runs_out_of_time_is_stored_and_flagged(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    number = "+447700900777"
    form = {
        "MessageSid": "SM" + "7" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": number,
        "To": FROM_NUMBER,
        "Body": "I have taken all my tablets",
        "NumMedia": "0",
    }
    assert post_signed(http, live_url + "/twilio/sms", form, AUTH_TOKEN).status_code == 200
    with sender_lock(runtime, number):  # another text from this number, stuck
        build_worker(runtime, simple=True).work(burst=True)

    referral = runtime.store.find_referral_for_message("sms", form["MessageSid"])
    assert referral is not None
    assert referral.raw_text == "I have taken all my tablets"
    assert referral.urgency == "urgent"
    assert referral.screening["needs_review"] is True
    assert "not screened" in referral.screening["review_reason"]
    assert twilio.messages == []  # whether it is safe to reply is not known
    _failed_and_not_retried(runtime)


@pytest.fixture
def silent_relay() -> Iterator[str]:
    """An SMTP relay that takes the connection and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield f"smtp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


def test_an_email_stored_before_its_job_ran_out_of_time_is_flagged(
    runtime: Runtime, silent_relay: str
) -> None:
    settings = email_settings(runtime, silent_relay, outbound_timeout=30.0)
    raw = (
        "From: Ann Lee <ann.lee@example.com>\r\nTo: " + INTAKE_ADDRESS + "\r\n"
        "Subject: help for my dad\r\nMessage-ID: <deadline-1@example.com>\r\n\r\n"
        "My dad needs an advocate for his care review.\r\n"
    ).encode()
    with intake_smtp(runtime, settings):
        assert deliver(settings, raw, mail_from="ann.lee@example.com") == {}
        build_worker(runtime, simple=True).work(burst=True)

    referral = runtime.store.find_referral_for_message("email", "deadline-1@example.com")
    assert referral is not None
    assert referral.screening["needs_review"] is True
    assert "not screened" in referral.screening["review_reason"]
    assert referral.urgency == "urgent"
    _failed_and_not_retried(runtime)


def test_the_unprocessed_email_keeps_its_message_id_and_the_original() -> None:
    from channels.email.receive import provider_id_for, unprocessed

    raw = b"From: a@example.org\r\nSubject: s\r\nMessage-ID: <x-1@example.org>\r\n\r\nbody\r\n"
    kept = unprocessed({"raw": raw, "envelope_from": "a@example.org", "rcpt_tos": []})
    assert kept.provider_id == provider_id_for(parse_email(raw), raw) == "x-1@example.org"
    assert kept.attachments[0].data == raw
    assert kept.meta["may_acknowledge"] is False


def test_the_deadline_is_not_an_exception_a_guard_can_swallow() -> None:
    assert not issubclass(JobDeadline, Exception)
    with pytest.raises(JobDeadline):
        try:
            raise JobDeadline("out of time")
        except Exception:  # what "never raise" guards in parsers look like
            pytest.fail("swallowed")
