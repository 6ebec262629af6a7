"""Forwarding referral events to the case system: one retried RQ job per event, never dropped.

`schedule` records the event (unique on `(reference, event_id)`, so a re-run of the pipeline or of
whoever calls it enqueues nothing twice) and queues `intake.tasks.forward_referral` on the
referral's priority, with `Retry` and exponential backoff. Each run sends the event to every
configured forwarder that has not yet taken it and records every attempt. Outcomes:

- all delivered: the event is `delivered`;
- a forwarder could not be reached (timeout, 408, 429, 5xx): the job raises and RQ retries it after
  the next interval; after the last attempt the event is `failed`;
- a forwarder refused it (any other 4xx, a 5xx SMTP reply, an invalid bundle): no retry, the event
  is `rejected`.

A failed or rejected event leaves its job in RQ's FailedJobRegistry and the referral's
`forward_status` at `forward_failed`; `failed()` lists them (GET /api/failed) and `replay()`
(`intake replay`) sends them again with a fresh set of attempts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from typing import Any, TextIO

from rq import Queue, Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from intake.config import Settings
from intake.forwarders import ForwardError, ForwardEvent, Rejected, configured
from intake.models import Referral
from intake.queue import PRIORITIES, enqueue, queue_name, safe_job_id
from intake.runtime import Runtime
from intake.store import Store
from intake.store.forwards import FAILED_STATES, OPEN_STATES

log = logging.getLogger(__name__)

FORWARD_JOB = "intake.tasks.forward_referral"
EVENTS = ("created", "updated")
SYSTEM_ACTOR = "system"
MAX_INTERVAL = 6 * 3600


class ForwardingDeferred(Exception):
    """An attempt failed and another is scheduled: raised so that RQ applies the job's `Retry`."""


class ForwardingFailed(Exception):
    """The event could not be delivered: the job ends in RQ's FailedJobRegistry."""


# -- policy -----------------------------------------------------------------------------------


def intervals(settings: Settings) -> list[int]:
    """Pauses before attempts 2..N: `FORWARD_INTERVALS`, else `FORWARD_BACKOFF` doubling."""
    retries = settings.forward_attempts - 1
    if retries < 1:
        return []
    if settings.forward_intervals:
        given = [max(0, int(v)) for v in settings.forward_intervals][:retries]
        return given + [given[-1]] * (retries - len(given))  # RQ would reuse the first one
    return [min(settings.forward_backoff * 2**i, MAX_INTERVAL) for i in range(retries)]


def retry_policy(settings: Settings) -> Retry | None:
    pauses = intervals(settings)
    return Retry(max=len(pauses), interval=pauses) if pauses else None


def priority_for(referral: Referral) -> str:
    return "high" if referral.urgency in ("emergency", "urgent") else "default"


def remote_forwarders(settings: Settings) -> list[str]:
    """The configured forwarders that send somewhere (`store` needs no job)."""
    return [f.name for f in configured(settings) if f.name != "store"]


def event_id_for(referral: Referral, messages: list[dict[str, Any]], event: str) -> str:
    """`created`, or `upd-` + a digest of what the case system would see.

    The digest makes an update's id depend on the referral's content, so a caller that runs twice
    for the same change schedules one event, and a real change always makes a new one.
    """
    if event == "created":
        return "created"
    state = {
        "urgency": referral.urgency,
        "safeguarding": sorted(referral.safeguarding),
        "safe_to_contact": referral.safe_to_contact,
        "status": referral.status,
        "fields": referral.fields,
        "screening": referral.screening,
        "messages": sorted(f"{m['channel']}:{m['provider_id']}" for m in messages),
    }
    digest = hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode())
    return "upd-" + digest.hexdigest()[:24]


# -- scheduling -------------------------------------------------------------------------------


def schedule(runtime: Runtime, referral: Referral, event: str = "created") -> None:
    """Queue one forward of this referral event; a second call for the same event does nothing."""
    if event not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}, not {event!r}")
    assert referral.id is not None, "store the referral before forwarding it"
    settings, store = runtime.settings, runtime.store
    if not remote_forwarders(settings):
        if referral.forward_status != "delivered":
            store.update_referral(referral.id, forward_status="delivered")
            referral.forward_status = "delivered"
        return
    messages = store.messages_for(referral.id)
    event_id = event_id_for(referral, messages, event)
    row_id = store.forwards.claim_event(
        referral_id=referral.id,
        reference=referral.reference,
        event=event,
        event_id=event_id,
        priority=priority_for(referral),
    )
    if row_id is None:
        row = store.forwards.get_event(referral.reference, event_id)
        if row is None or row["job_id"] or row["status"] not in OPEN_STATES:
            return  # already queued, running or finished
        # A claim whose enqueue never happened (the process died in between): finish it.
    else:
        row = store.forwards.get_event(referral.reference, event_id)
        assert row is not None
    try:
        _enqueue(runtime, row)
    except Exception:
        if row_id is not None:
            _forget(store, row_id)  # so the caller's retry claims and enqueues it again
        raise
    _refresh_status(store, referral)
    log.info("forward of %s %s queued on %s", referral.reference, event, row["priority"])


def _forget(store: Store, row_id: int) -> None:
    store.forwards.forget(row_id)


def _job_id(settings: Settings, row: dict[str, Any]) -> str:
    return safe_job_id(settings.queue_prefix, "fwd", row["reference"], row["event_id"])


def _enqueue(runtime: Runtime, row: dict[str, Any]) -> None:
    settings = runtime.settings
    job_id = _job_id(settings, row)
    targets = max(1, len(remote_forwarders(settings)))
    enqueue(
        settings,
        runtime.redis,
        FORWARD_JOB,
        row["reference"],
        row["event_id"],
        priority=row["priority"] if row["priority"] in PRIORITIES else "default",
        job_id=job_id,
        retry=retry_policy(settings),
        # No worker blocks forever: each call has its own timeout, the job a ceiling above them.
        job_timeout=int(settings.outbound_timeout * targets * 2 + 60),
        description=f"forward {row['reference']} {row['event']}",
    )
    runtime.store.forwards.update_event(row["id"], job_id=job_id)


def _refresh_status(store: Store, referral: Referral) -> str:
    assert referral.id is not None
    status = store.forwards.referral_forward_status(referral.id)
    if status != referral.forward_status:
        store.update_referral(referral.id, forward_status=status)
        referral.forward_status = status
    return status


# -- the job ----------------------------------------------------------------------------------


def deliver(runtime: Runtime, reference: str, event_id: str) -> dict[str, Any]:
    """Run one attempt of one event (the body of the RQ job)."""
    settings, store = runtime.settings, runtime.store
    row = store.forwards.get_event(reference, event_id)
    referral = store.get_referral(reference)
    if row is None or referral is None or referral.id is None:
        log.warning("forward of %s %s: no such event, nothing to do", reference, event_id)
        return {"status": "missing"}
    if row["status"] == "delivered":
        return {"status": "delivered"}
    job = get_current_job()
    last = job is None or not job.retries_left
    attempt = store.forwards.attempt_count(row["id"]) + 1
    settled = store.forwards.settled_targets(row)
    event = ForwardEvent(
        event=row["event"],
        event_id=event_id,
        sequence=row["id"],
        occurred_at=row["created_at"],
        referral=referral,
        messages=store.messages_for(referral.id),
    )
    transient: list[str] = []
    for forwarder in configured(settings):
        if forwarder.name == "store" or forwarder.name in settled:
            continue
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            status_code = forwarder.send(settings, event).status_code
            outcome = "delivered"
        except Rejected as exc:
            status_code, error, outcome = exc.status_code, str(exc), "rejected"
        except ForwardError as exc:
            status_code, error = exc.status_code, str(exc)
            outcome = "failed" if last else "retry"
        except Exception as exc:  # a bug must not lose the event: record it and retry
            error = f"{type(exc).__name__}: {exc}"
            outcome = "failed" if last else "retry"
            log.exception("forwarder %s crashed on %s", forwarder.name, reference)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        store.forwards.record_attempt(
            event_row=row,
            attempt=attempt,
            target=forwarder.name,
            destination=forwarder.destination(settings),
            status_code=status_code,
            latency_ms=latency_ms,
            outcome=outcome,
            error=error,
        )
        log.info(
            "forward %s %s to %s, attempt %d: %s %s (%.0f ms)",
            reference,
            row["event"],
            forwarder.name,
            attempt,
            outcome,
            status_code or "",
            latency_ms,
        )
        if outcome in ("delivered", "rejected"):
            settled[forwarder.name] = outcome
        else:
            transient.append(forwarder.name)

    rejected = sorted(name for name, outcome in settled.items() if outcome == "rejected")
    if transient and not last:
        store.forwards.update_event(row["id"], status="retrying")
        _refresh_status(store, referral)
        raise ForwardingDeferred(f"{reference} {event_id}: will retry {', '.join(transient)}")
    if transient or rejected:
        status = "failed" if transient else "rejected"
        store.forwards.update_event(row["id"], status=status)
        _refresh_status(store, referral)
        store.audit(
            SYSTEM_ACTOR,
            "referral.forward_failed",
            referral_id=referral.id,
            detail={
                "event": row["event"],
                "event_id": event_id,
                "status": status,
                "failed": transient,
                "rejected": rejected,
                "attempts": attempt,
            },
        )
        if job is not None and job.retries_left:
            job.retries_left = 0  # a refusal is final: keep RQ from retrying it
        raise ForwardingFailed(
            f"{reference} {event_id} {status}: "
            + ", ".join(
                f"{n} {'rejected' if n in rejected else 'failed'}" for n in transient + rejected
            )
        )
    store.forwards.update_event(row["id"], status="delivered")
    _refresh_status(store, referral)
    store.audit(
        SYSTEM_ACTOR,
        "referral.forwarded",
        referral_id=referral.id,
        detail={"event": row["event"], "event_id": event_id, "attempts": attempt},
    )
    return {"status": "delivered", "attempts": attempt}


# -- failures and replay ----------------------------------------------------------------------


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
        store.forwards.update_event(row["id"], status="queued", replay_after=replay_after)
        row = {**row, "status": "queued", "replay_after": replay_after}
        _enqueue(runtime, row)
        replayed.append(row["event_id"])
    if replayed:
        _refresh_status(store, referral)
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
