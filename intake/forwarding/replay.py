"""Events that could not be delivered: listing them, and sending them again."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, TextIO

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from intake.forwarding.schedule import enqueue_event, refresh_status
from intake.models import SYSTEM_ACTOR
from intake.queue import PRIORITIES, queue_name
from intake.runtime import Runtime
from intake.store import Store
from intake.store.forwards import FAILED_STATES

log = logging.getLogger(__name__)


def attempts(store: Store, referral_id: int) -> list[dict[str, Any]]:
    """Every attempt for a referral, oldest first: at, event, event_id, attempt, target,
    destination, status_code, latency_ms, outcome (delivered/retry/failed/rejected), error."""
    return [
        {
            "at": a["at"].isoformat(),
            "event": a["event"],
            "event_id": a["event_id"],
            "attempt": a["attempt"],
            "target": a["target"],
            "destination": a["destination"],
            "status_code": a["status_code"],
            "latency_ms": a["latency_ms"],
            "outcome": a["outcome"],
            "error": a["error"],
        }
        for a in store.forwards.attempts_for(referral_id)
    ]


def failed(store: Store) -> list[dict[str, Any]]:
    """Events that could not be delivered, most urgent first: reference, urgency, event, event_id,
    status (failed/rejected), forward_status, job_id, attempts, failed_at, last target, status
    code and error."""
    out = []
    for row in store.forwards.failed_events():
        last = store.forwards.last_attempt(row["id"])
        out.append(
            {
                "reference": row["reference"],
                "urgency": row["urgency"],
                "event": row["event"],
                "event_id": row["event_id"],
                "status": row["status"],
                "forward_status": row["forward_status"],
                "job_id": row["job_id"],
                "attempts": store.forwards.attempt_count(row["id"]),
                "failed_at": row["updated_at"].isoformat(),
                "target": last["target"] if last else None,
                "status_code": last["status_code"] if last else None,
                "error": last["error"] if last else None,
            }
        )
    return out


def in_failed_registry(runtime: Runtime) -> set[str]:
    """Ids of the jobs RQ holds in its failed registries for this deployment's queues."""
    found: set[str] = set()
    for priority in PRIORITIES:
        queue = Queue(queue_name(runtime.settings, priority), connection=runtime.redis)
        found.update(FailedJobRegistry(queue=queue).get_job_ids())
    return found


def replay(runtime: Runtime, reference: str) -> None:
    """Send a referral's failed and rejected events again, each with a fresh set of attempts.

    The old job leaves RQ's failed registry; targets that already took the event are skipped.
    Raises `LookupError` for an unknown reference.
    """
    store = runtime.store
    referral = store.get_referral(reference)
    if referral is None or referral.id is None:
        raise LookupError(f"no referral {reference!r}")
    replayed = []
    for row in store.forwards.events_for(referral.id):
        if row["status"] not in FAILED_STATES:
            continue
        if row["job_id"]:
            for priority in PRIORITIES:
                queue = Queue(queue_name(runtime.settings, priority), connection=runtime.redis)
                FailedJobRegistry(queue=queue).remove(row["job_id"])
            with contextlib.suppress(NoSuchJobError):  # expired: the fresh job does not need it
                Job.fetch(row["job_id"], connection=runtime.redis).delete()
        replay_after = store.forwards.attempt_count(row["id"])
        store.forwards.update_event(
            row["id"], status="queued", replay_after=replay_after, job_id=None
        )
        row = {**row, "status": "queued", "replay_after": replay_after}
        enqueue_event(runtime, row)
        replayed.append(row["event_id"])
    if replayed:
        refresh_status(store, referral)
        store.audit(
            SYSTEM_ACTOR,
            "referral.forward_replayed",
            referral_id=referral.id,
            detail={"event_ids": replayed},
        )
        log.info("replaying %d forward event(s) of %s", len(replayed), referral.reference)


def replay_all_failed(runtime: Runtime) -> list[str]:
    """Replay every failed referral; returns their references."""
    references = list(dict.fromkeys(item["reference"] for item in failed(runtime.store)))
    for reference in references:
        replay(runtime, reference)
    return references


def replay_command(
    runtime: Runtime, references: list[str], *, all_failed: bool, out: TextIO
) -> int:
    """`intake replay`: 0 when everything named was queued again, 1 when a reference is unknown."""
    code = 0
    if all_failed:
        done = replay_all_failed(runtime)
        print(f"queued {len(done)} failed referral(s) again: {' '.join(done) or '-'}", file=out)
    for reference in references:
        try:
            replay(runtime, reference)
        except LookupError as exc:
            print(str(exc), file=out)
            code = 1
        else:
            print(f"queued {reference.upper()} again", file=out)
    return code
