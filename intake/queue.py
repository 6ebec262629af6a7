"""Redis and the RQ queues: the hand-over point between the channels and the workers.

Two queues, `high` and `default` (named `<prefix>-high`, `<prefix>-default` so several
deployments or test runs can share one Redis). Workers drain `high` first. The channel adapters
pick the queue from a quick screen of the text, so a frightened text at 2 a.m. does not wait
behind a newsletter.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job

from intake.config import Settings
from intake.models import InboundMessage

log = logging.getLogger(__name__)

PRIORITIES = ("high", "default")
PROCESS_INBOUND = "intake.tasks.process_inbound"
# The pipeline is idempotent, so a job that failed (database down, worker killed) is safe to
# run again; these pauses give a restarting database time to come back.
INBOUND_RETRY = Retry(max=5, interval=[5, 30, 120, 600, 1800])


class QueueUnavailable(Exception):
    """Redis could not take the message: the channel must make the sender retry."""


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
    func: str,
    *args: Any,
    priority: str = "default",
    job_id: str | None = None,
    retry: Retry | None = None,
    **kwargs: Any,
) -> Job:
    queue = Queue(queue_name(settings, priority), connection=connection)
    try:
        return queue.enqueue(
            func,
            *args,
            job_id=job_id,
            retry=retry,
            failure_ttl=365 * 24 * 3600,
            result_ttl=3600,
            **kwargs,
        )
    except RedisError as exc:
        raise QueueUnavailable(str(exc)) from exc


def enqueue_inbound(
    settings: Settings, connection: Redis, message: InboundMessage, *, priority: str
) -> Job:
    """Queue one inbound message for the pipeline; raises `QueueUnavailable` if Redis is down."""
    job = enqueue(
        settings,
        connection,
        PROCESS_INBOUND,
        message.to_payload(),
        priority=priority,
        job_id=safe_job_id(settings.queue_prefix, message.channel, message.provider_id, _nonce()),
        retry=INBOUND_RETRY,
        description=f"inbound {message.channel} {message.provider_id}",
    )
    log.info("queued %s message %s on %s", message.channel, message.provider_id, priority)
    return job


def _nonce() -> str:
    # A redelivery gets its own job (the store makes it harmless); the id stays traceable to
    # the provider's id in RQ's registries.
    return secrets.token_hex(4)
