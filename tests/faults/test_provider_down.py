"""Twilio down, and one sender flooding: the pipeline goes on for everyone else, the failed
acknowledgement is retried after a pause, and a flood is stored in full but acknowledged only up
to the per-sender limit."""

from __future__ import annotations

import time

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from intake import ratelimit
from intake.models import InboundMessage
from intake.queue import enqueue_message, queue_name
from intake.runtime import Runtime
from tests.support.twilio_standin import TwilioStandIn
from worker import build_worker


def message(i: int, sender: str) -> InboundMessage:
    return InboundMessage(
        channel="sms",
        provider_id=f"SM{i:032d}",
        sender=sender,
        recipient="+447700900001",
        body=f"Hi, I need help with a complaint about my dad's discharge from hospital ({i})",
    )


def enqueue(runtime: Runtime, msg: InboundMessage) -> Job:
    return enqueue_message(runtime.settings, runtime.redis, msg, priority="default")


def ok_sends(twilio: TwilioStandIn, failed: int) -> list[str]:
    """Recipients of the sends Twilio accepted (the first `failed` requests were refused)."""
    return [m.value("To") for m in twilio.messages[failed:]]


@pytest.mark.slow
def test_twilio_down_is_retried_with_a_pause_and_the_rest_goes_on(
    runtime: Runtime, twilio: TwilioStandIn
) -> None:
    twilio.fail_next(1, status=503, code=20503)
    first = enqueue(runtime, message(1, "+447700900301"))
    enqueue(runtime, message(2, "+447700900302"))
    build_worker(runtime, simple=True).work(burst=True)

    # both referrals are stored; the second was acknowledged although Twilio failed the first
    assert {r.sender for r in runtime.store.list_referrals()} == {"+447700900301", "+447700900302"}
    assert ok_sends(twilio, failed=1) == ["+447700900302"]
    queue = Queue(queue_name(runtime.settings, "default"), connection=runtime.redis)
    scheduled = ScheduledJobRegistry(queue=queue)
    assert first.id in scheduled.get_job_ids()  # a retry, not an immediate hammering
    first.refresh()
    assert first.retries_left == 4
    due = scheduled.get_scheduled_time(first)
    assert due.timestamp() > time.time()  # backoff: the first pause is a few seconds

    time.sleep(max(0.0, due.timestamp() - time.time()) + 0.2)
    build_worker(runtime, simple=True).work(burst=True, with_scheduler=True)
    assert sorted(ok_sends(twilio, failed=1)) == ["+447700900301", "+447700900302"]
    assert len(runtime.store.list_referrals()) == 2  # the retry made no second referral


def test_a_flooding_sender_is_stored_in_full_but_acknowledged_within_the_limit(
    runtime: Runtime, twilio: TwilioStandIn
) -> None:
    limit = runtime.settings.ack_rate_limit
    assert limit > 0
    flooder, other = "+447700900666", "+447700900777"
    for i in range(50):
        enqueue(runtime, message(100 + i, flooder))
    enqueue(runtime, message(200, other))
    build_worker(runtime, simple=True).work(burst=True)

    referrals = runtime.store.list_referrals(limit=200)
    stored = [m for r in referrals for m in runtime.store.messages_for(r.id or 0)]
    assert sum(1 for m in stored if m["sender"] == flooder) == 50  # every message kept
    sent_to = [m.value("To") for m in twilio.messages]
    assert 1 <= sent_to.count(flooder) <= limit  # one referral or several: never 50 texts back
    assert sent_to.count(other) == 1  # another sender is not held back by the flood


def test_the_limit_admits_up_to_n_distinct_acknowledgements_per_sender(runtime: Runtime) -> None:
    settings, redis = runtime.settings.with_(ack_rate_limit=3), runtime.redis

    def admit(member: str, sender: str = "+447700900666", kind: str = "ack") -> bool:
        return ratelimit.admit(
            settings, redis, channel="sms", sender=sender, member=member, kind=kind
        )

    assert [admit(f"ack:REF-{i}") for i in range(6)] == [True] * 3 + [False] * 3
    assert admit("ack:REF-0")  # a retried job asking again keeps its place
    assert admit("ack:REF-9", kind="ack-emergency")  # emergencies have their own allowance
    assert admit("ack:REF-9", sender="+447700900123")  # and so does everyone else
    assert ratelimit.admit(
        settings.with_(ack_rate_limit=0), redis, channel="sms", sender="+447700900666", member="x"
    )


def test_the_window_slides(runtime: Runtime) -> None:
    settings = runtime.settings.with_(ack_rate_limit=1, ack_rate_window=60)
    args = {"channel": "email", "sender": "Someone@Example.org.uk"}
    assert ratelimit.admit(settings, runtime.redis, member="a", now=1000.0, **args)
    assert not ratelimit.admit(settings, runtime.redis, member="b", now=1030.0, **args)
    assert ratelimit.admit(settings, runtime.redis, member="b", now=1061.0, **args)
