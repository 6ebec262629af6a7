"""A worker killed with SIGKILL in the middle of a job: the job is not lost, the referral is made
once, and no acknowledgement goes twice (the store's claim-before-send makes sending at most
once). The job is held mid-flight by a Twilio stand-in that does not answer until released."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import SCHEDULER_LOCKING_KEY_TEMPLATE

import channels
from intake.config import Settings
from intake.models import InboundMessage
from intake.queue import enqueue_message, queue_name
from intake.runtime import Runtime
from tests.faults.support import (
    HoldingTwilio,
    kill_group,
    start_holding_twilio,
    start_worker,
    stop,
    wait_for,
    work_horse,
)


@pytest.fixture
def holding_twilio() -> Iterator[HoldingTwilio]:
    standin = start_holding_twilio(hold=1)
    yield standin
    standin.close()


@pytest.fixture
def kill_settings(settings: Settings, holding_twilio: HoldingTwilio) -> Settings:
    return settings.with_(twilio_api_base_url=holding_twilio.url, outbound_timeout=30.0)


def _message() -> InboundMessage:
    return InboundMessage(
        channel="sms",
        provider_id="SM" + "9" * 32,
        sender="+447700900999",
        recipient="+447700900001",
        body="Please can someone ring my son back about his section 3 tribunal",
    )


def _finished(job: Job) -> bool:
    return job.get_status(refresh=True) == JobStatus.FINISHED


@pytest.mark.slow
def test_work_horse_killed_mid_send_is_retried_and_never_texts_twice(
    kill_settings: Settings, holding_twilio: HoldingTwilio, tmp_path: Path
) -> None:
    rt = Runtime.build(kill_settings, channels.registry())
    job = enqueue_message(kill_settings, rt.redis, _message(), priority="default")
    # the forking worker (`--fork`): its work horse is killed, the worker lives on
    worker = start_worker(kill_settings, tmp_path / "worker.log", "--fork")
    try:
        wait_for(lambda: holding_twilio.received, timeout=30)  # the ack is on the wire
        horse = work_horse(worker.pid)
        os.kill(horse, signal.SIGKILL)
        holding_twilio.release()
        lapse_leases(rt, kill_settings)
        # RQ's worker sees its horse die, fails the job, and the job's Retry runs it again
        wait_for(lambda: _finished(job), timeout=40)
    finally:
        stop(worker)
    _assert_processed_once(rt, holding_twilio)
    job.refresh()
    assert job.retries_left is not None and job.retries_left < 5  # it was a retry that finished
    rt.close()


@pytest.mark.slow
def test_whole_worker_killed_mid_job_is_recovered_from_the_started_registry(
    kill_settings: Settings, holding_twilio: HoldingTwilio, tmp_path: Path
) -> None:
    rt = Runtime.build(kill_settings, channels.registry())
    job = enqueue_message(kill_settings, rt.redis, _message(), priority="default")
    # the default worker class (in-process since issue 20): the job dies with the worker
    first = start_worker(kill_settings, tmp_path / "worker1.log")
    try:
        wait_for(lambda: holding_twilio.received, timeout=30)
    finally:
        kill_group(first)  # worker (and any horse) gone at once: nobody marks the job failed
    holding_twilio.release()
    queue = Queue(queue_name(kill_settings, "default"), connection=rt.redis)
    registry = StartedJobRegistry(queue=queue)
    assert job.id in registry.get_job_ids(cleanup=False)
    assert job.get_status(refresh=True) == JobStatus.STARTED

    # The abandoned entry expires when the dead worker's heartbeat would have been renewed
    # (job monitoring interval + 60 s); RQ's maintenance then retries it. Move the clock past
    # that point instead of waiting for it.
    registry.cleanup(timestamp=time.time() + 3600)
    assert job.id in ScheduledJobRegistry(queue=queue).get_job_ids()  # retried, with a pause
    # The dead worker's scheduler lock would lapse after 61 s; lapse it now.
    for name in (queue_name(kill_settings, p) for p in ("high", "default")):
        rt.redis.delete(SCHEDULER_LOCKING_KEY_TEMPLATE % name)
    lapse_leases(rt, kill_settings)
    second = start_worker(kill_settings, tmp_path / "worker2.log")
    try:
        wait_for(lambda: _finished(job), timeout=40)
    finally:
        stop(second)
    _assert_processed_once(rt, holding_twilio)
    rt.close()


def lapse_leases(rt: Runtime, settings: Settings) -> None:
    """Expire the per-sender conversation lock the killed job held (a 120 s lease; a retry
    would otherwise wait up to 60 s for it, then go on without it)."""
    for key in rt.redis.scan_iter(match=f"{settings.queue_prefix}:conversation:*"):
        rt.redis.delete(key)


def _assert_processed_once(rt: Runtime, twilio: HoldingTwilio) -> None:
    [referral] = rt.store.list_referrals()
    assert referral.forward_status == "delivered"
    assert len(rt.store.messages_for(referral.id or 0)) == 1
    [ack] = rt.store.outbound_for(referral.id or 0)
    # Killed between the claim and Twilio's answer: the claim stays, so nothing is sent again;
    # the row is left `sending` for a person to check (at most once, not at least once).
    assert ack["status"] == "sending"
    assert len(twilio.received) == 1
