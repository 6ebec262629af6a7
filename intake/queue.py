"""Redis and the RQ queues: the hand-over point between the channels and the workers.

Two queues, `high` and `default` (named `<prefix>-high`, `<prefix>-default` so several
deployments or test runs can share one Redis). Workers drain `high` first. The channel doors pick
the queue from a quick screen of the text, so a frightened text at 2 a.m. does not wait behind a
newsletter.

Every job is queued here, by one of the names below (`intake.tasks` holds the functions), with
`enqueue`; nothing else in intake builds an RQ `Queue` to put work on.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty

from intake.config import Settings
from intake.models import InboundMessage

log = logging.getLogger(__name__)

PRIORITIES = ("high", "default")

# The jobs, by the dotted name RQ stores with each one (see `intake.tasks` for what they do).
RECEIVE = "intake.tasks.receive"  # (channel, payload): one inbound message on any channel
FORWARD_REFERRAL = "intake.tasks.forward_referral"  # (reference, event_id)
ALERT_EMERGENCY = "intake.tasks.alert_emergency"  # (reference, occasion)
ALERT_DIGEST = "intake.tasks.alert_digest"  # (digest_id): on-call alerts held in a flood
VOICE_TRANSCRIBE = "intake.tasks.voice_transcribe"  # (call_sid)
VOICE_TRANSCRIPT_TIMEOUT = "intake.tasks.voice_transcript_timeout"  # (call_sid)
SLA_CHECK = "intake.tasks.sla_check"  # ()
READ_ATTACHMENTS = "intake.tasks.read_attachments"  # (channel, provider_id)
JOBS = (
    RECEIVE,
    FORWARD_REFERRAL,
    ALERT_EMERGENCY,
    ALERT_DIGEST,
    VOICE_TRANSCRIBE,
    VOICE_TRANSCRIPT_TIMEOUT,
    SLA_CHECK,
    READ_ATTACHMENTS,
)
# Names an earlier release queued jobs under. RQ keeps failed jobs a year (and a queue may hold
# jobs across an upgrade), so these still resolve: `tests/test_tasks.py` imports every one.
LEGACY_JOBS = (
    "intake.tasks.process_inbound",
    "intake.tasks.process_email",
    "intake.tasks.process_voice_event",
    "intake.sla.check_overdue_job",
)

# Inbound work is idempotent, so a job that failed (database down, worker killed) is safe to run
# again; these pauses give a restarting database time to come back.
INBOUND_RETRY = Retry(max=5, interval=[5, 30, 120, 600, 1800])
# One inbound message's job may take `INBOUND_JOB_TIMEOUT` seconds (a worker's time is shared with
# emergencies). Past it the message is stored unscreened and flagged for a person
# (`intake.tasks.receive_failed`), never retried: the same input would take as long again.
RECEIVE_FAILED = "intake.tasks.receive_failed"


class JobDeadline(BaseException):
    """A job ran out of its time (RQ's job timeout).

    A `BaseException`, like `KeyboardInterrupt`, so that no `except Exception` on the job's way
    (a parser's "never raise" guard, a provider's error mapping) can swallow it and let the job
    run on: RQ's own `JobTimeoutException` is an `Exception`, and a broad `except` in text
    extraction once held a worker for minutes after its timeout (issue 15).
    """


class DeadlinePenalty(UnixSignalDeathPenalty):
    """RQ's SIGALRM timeout, raising `JobDeadline` (workers use it: `worker.build_worker`)."""

    def handle_death_penalty(self, signum: int, frame: Any) -> None:
        raise JobDeadline(f"job exceeded its {self._timeout} s")


def timed_out(exc_type: type[BaseException] | None) -> bool:
    """Whether a job failed by running out of time (our deadline, or RQ's own timeout)."""
    return exc_type is not None and issubclass(exc_type, JobDeadline | JobTimeoutException)


# A notice to on-call that could not reach its provider is tried again soon.
ALERT_RETRY = Retry(max=5, interval=[10, 30, 60, 120, 300])
FAILURE_TTL = 365 * 24 * 3600  # failed jobs stay where a person can see and replay them
RESULT_TTL = 3600


class QueueUnavailable(Exception):
    """Redis could not take the job: a channel door must make the sender retry."""


def connect(url: str) -> Redis:
    """A Redis client that fails fast: a webhook must answer 503 well inside Twilio's 15 s."""
    return Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        retry_on_timeout=False,
    )


def queue_name(settings: Settings, priority: str) -> str:
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}")
    return f"{settings.queue_prefix}-{priority}"


def queues(settings: Settings, connection: Redis) -> list[Queue]:
    """The queues in the order a worker must read them."""
    return [Queue(queue_name(settings, p), connection=connection) for p in PRIORITIES]


def safe_job_id(*parts: str) -> str:
    """RQ job ids allow only letters, digits, `_` and `-`."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", "-".join(parts))[:200]


def enqueue(
    settings: Settings,
    connection: Redis,
    job: str,
    *args: Any,
    priority: str = "default",
    job_id: str | None = None,
    retry: Retry | None = None,
    delay: timedelta | None = None,
    **kwargs: Any,
) -> Job:
    """Queue `job` (one of the names above); after `delay` when given (needs RQ's scheduler).

    Raises `QueueUnavailable` when Redis cannot take it.
    """
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}")
    queue = Queue(queue_name(settings, priority), connection=connection)
    options: dict[str, Any] = {
        "job_id": job_id,
        "retry": retry,
        "failure_ttl": FAILURE_TTL,
        "result_ttl": RESULT_TTL,
        **kwargs,
    }
    try:
        if delay is not None:
            return queue.enqueue_in(delay, job, *args, **options)
        return queue.enqueue(job, *args, **options)
    except RedisError as exc:
        raise QueueUnavailable(str(exc)) from exc


def enqueue_inbound(
    settings: Settings,
    connection: Redis,
    channel: str,
    payload: dict[str, Any],
    *,
    priority: str,
    key: str,
) -> Job:
    """Queue one inbound message for the pipeline; raises `QueueUnavailable` if Redis is down.

    `key` is the provider's id for what arrived (a MessageSid, a digest of the raw mail): kept in
    the job id so RQ's registries can be read against the provider's logs. A redelivery gets a
    job of its own (the store makes it harmless).
    """
    job = enqueue(
        settings,
        connection,
        RECEIVE,
        channel,
        payload,
        priority=priority,
        job_id=safe_job_id(settings.queue_prefix, channel, key, secrets.token_hex(4)),
        retry=INBOUND_RETRY,
        description=f"inbound {channel} {key}",
        job_timeout=settings.inbound_job_timeout,
        on_failure=Callback(RECEIVE_FAILED),
    )
    log.info("queued %s %s on %s", channel, key, priority)
    return job


def enqueue_message(
    settings: Settings, connection: Redis, message: InboundMessage, *, priority: str
) -> Job:
    """Queue a message a door has already turned into an `InboundMessage` (SMS)."""
    return enqueue_inbound(
        settings,
        connection,
        message.channel,
        message.to_payload(),
        priority=priority,
        key=message.provider_id,
    )
