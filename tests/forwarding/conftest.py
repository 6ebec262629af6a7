"""Fixtures for forwarding: a stand-in case system, a runtime configured to forward, referrals.

Retries are run deterministically: `run_due` moves every job RQ scheduled for a retry back onto
its queue (after the test has read its scheduled time), then a real in-process worker drains the
queues. Nothing sleeps for the backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

import channels
from intake import runtime as runtime_module
from intake.config import Settings
from intake.models import InboundMessage, Referral
from intake.queue import queues
from intake.runtime import Runtime
from tests.forwarding import case_system as case_system_module
from worker import build_worker

WEBHOOK_SECRET = "whsec-test-0123456789"

FIRST_TEXT = (
    "Hi, I'm ringing about my mum Margaret Hughes, DOB 03/02/1938. She has dementia and the ward "
    "at St Luke's say she lacks capacity to decide where to live. They want to move her to a "
    "nursing home on Friday. Her carer has been taking money from her account. Text me on this "
    "number."
)
SECOND_TEXT = "Sorry, forgot to say: her social worker is on leave until the 14th. Thanks, Ellen"


@pytest.fixture
def case_system() -> Iterator[case_system_module.CaseSystem]:
    system = case_system_module.start(WEBHOOK_SECRET)
    yield system
    system.close()


@pytest.fixture
def make_runtime(settings: Settings) -> Iterator[Callable[..., Runtime]]:
    built: list[Runtime] = []

    def make(**changes: Any) -> Runtime:
        defaults: dict[str, Any] = {
            "case_webhook_secret": WEBHOOK_SECRET,
            "forward_attempts": 4,
            "forward_backoff": 30,
            "outbound_timeout": 2.0,
        }
        rt = Runtime.build(settings.with_(**{**defaults, **changes}), channels.registry())
        runtime_module.install(rt)
        built.append(rt)
        return rt

    yield make
    runtime_module.install(None)
    for rt in built:
        rt.close()


def add_referral(
    rt: Runtime,
    *,
    urgency: str = "urgent",
    safeguarding: tuple[str, ...] = ("financial",),
    text: str = FIRST_TEXT,
    sender: str = "+447700900118",
    provider_id: str = "SM" + "a" * 32,
    fields: dict[str, Any] | None = None,
) -> Referral:
    received = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    message = InboundMessage(
        "sms", provider_id, sender, "+447700900001", text, received_at=received
    )
    found = (
        fields
        if fields is not None
        else {
            "referral_for": "other",
            "name": "Margaret Hughes",
            "subject_name": "Margaret Hughes",
            "dob": "1938-02-03",
            "relationship": "child",
            "referrer": {"name": "Ellen", "phone": sender},
            "advocacy_type": "imca",
            "setting": "hospital",
            "confidence": {"name": 0.75},
        }
    )
    referral = Referral(
        reference="R" + provider_id[-6:].upper(),
        channel="sms",
        sender=sender,
        received_at=received,
        raw_text=text,
        urgency=urgency,
        safeguarding=list(safeguarding),
        screening={"needs_review": False},
        fields=found,
    )
    return rt.store.create_referral(referral, message)


def add_message(rt: Runtime, referral: Referral, text: str = SECOND_TEXT) -> None:
    assert referral.id is not None
    rt.store.add_message(
        referral.id,
        InboundMessage(
            "sms",
            "SM" + "b" * 32,
            referral.sender,
            "+447700900001",
            text,
            received_at=referral.received_at + timedelta(minutes=7),
        ),
    )


def work(rt: Runtime) -> None:
    """Drain the queues with a real in-process worker (no scheduler: `run_due` plays it)."""
    build_worker(rt, simple=True).work(burst=True)


def scheduled(rt: Runtime) -> dict[str, float]:
    """Job id -> seconds from now until RQ will retry it."""
    now = datetime.now(UTC)
    found: dict[str, float] = {}
    for queue in queues(rt.settings, rt.redis):
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            at = registry.get_scheduled_time(job_id)
            found[job_id] = (at - now).total_seconds()
    return found


def run_due(rt: Runtime) -> list[str]:
    """Enqueue every scheduled retry now, as the scheduler would once its time came."""
    moved = []
    for queue in queues(rt.settings, rt.redis):
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            registry.remove(job_id)
            Queue(queue.name, connection=rt.redis).enqueue_job(
                Job.fetch(job_id, connection=rt.redis)
            )
            moved.append(job_id)
    return moved
