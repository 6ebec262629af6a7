"""Queueing referral events for delivery: claimed in the store first, so nothing is sent twice."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from rq.job import Job

from intake.config import Settings
from intake.forwarding.policy import (
    EVENTS,
    event_id_for,
    priority_for,
    remote_forwarders,
    retry_policy,
    state_digest,
)
from intake.models import Referral, utcnow
from intake.queue import FORWARD_REFERRAL, PRIORITIES, enqueue, safe_job_id
from intake.runtime import Runtime
from intake.store import Store

# How long an open event may sit without its job before the sweep queues it again.
SWEEP_AFTER = timedelta(minutes=2)

log = logging.getLogger(__name__)


def bring_up_to_date(runtime: Runtime, referral: Referral) -> str | None:
    """Tell the case system about this referral as it is now: `created` the first time, then
    `updated` whenever what it sees has changed. Returns the event scheduled, if any."""
    assert referral.id is not None, "store the referral before forwarding it"
    event = "updated" if runtime.store.forwards.events_for(referral.id) else "created"
    return event if schedule(runtime, referral, event) else None


def schedule(runtime: Runtime, referral: Referral, event: str = "created") -> bool:
    """Queue one forward of this referral event; False when there was nothing new to queue.

    `created` is made once per referral; `updated` only when the referral differs from what the
    last event carried (`policy.state_digest`), so calling this twice for one change queues one
    event. Raises `QueueUnavailable` when Redis cannot take it (the claim is then undone).
    """
    if event not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}, not {event!r}")
    assert referral.id is not None, "store the referral before forwarding it"
    settings, store = runtime.settings, runtime.store
    if not remote_forwarders(settings):
        if referral.forward_status != "delivered":
            store.update_referral(referral.id, forward_status="delivered")
            referral.forward_status = "delivered"
        return False
    # An event claimed by a job that died before queueing it: queue it now (a re-run of that
    # job comes here too), before deciding whether anything new is needed.
    recovered = False
    for orphan in store.forwards.unqueued(referral.id):
        recovered = enqueue_event(runtime, orphan) or recovered
    if not remote_forwarders(settings, event):
        # No configured target can act on this event: nothing to queue.
        if recovered:
            refresh_status(store, referral)
        return recovered
    state = state_digest(referral, store.messages_for(referral.id))
    earlier = store.forwards.events_for(referral.id)
    # An event from before migration 0002 has no state: unknown, so the update is sent.
    if event == "updated" and earlier and earlier[-1]["state"] == state:
        if recovered:
            refresh_status(store, referral)
        return recovered  # the case system has this already
    event_id = event_id_for(event, len(earlier), state)
    row_id = store.forwards.claim_event(
        referral_id=referral.id,
        reference=referral.reference,
        event=event,
        event_id=event_id,
        priority=priority_for(referral),
        state=state,
    )
    if row_id is None:
        if recovered:
            refresh_status(store, referral)
        return recovered  # claimed by another job, which queues it (or the sweep does)
    row = store.forwards.get_event(referral.reference, event_id)
    assert row is not None
    try:
        enqueue_event(runtime, row)
    except Exception:
        store.forwards.forget(row_id)  # so the caller's retry claims and enqueues it again
        raise
    refresh_status(store, referral)
    log.info("forward of %s %s queued on %s", referral.reference, event, row["priority"])
    return True


def _job_id(settings: Settings, row: dict[str, Any]) -> str:
    return safe_job_id(settings.queue_prefix, "fwd", row["reference"], row["event_id"])


def enqueue_event(runtime: Runtime, row: dict[str, Any]) -> bool:
    """Queue an event's delivery job; False when another process has queued it.

    Whoever takes the event's `job_id` first queues it (`Forwards.take_enqueue`), so an event is
    never queued twice; if queueing fails the `job_id` is given back for the next attempt.
    """
    settings, store = runtime.settings, runtime.store
    job_id = _job_id(settings, row)
    if not store.forwards.take_enqueue(row["id"], job_id):
        return False
    targets = max(1, len(remote_forwarders(settings)))
    try:
        _enqueue(runtime, row, job_id, targets)
    except Exception:
        store.forwards.release_enqueue(row["id"])
        raise
    return True


def _enqueue(runtime: Runtime, row: dict[str, Any], job_id: str, targets: int) -> None:
    settings = runtime.settings
    enqueue(
        settings,
        runtime.redis,
        FORWARD_REFERRAL,
        row["reference"],
        row["event_id"],
        priority=row["priority"] if row["priority"] in PRIORITIES else "default",
        job_id=job_id,
        retry=retry_policy(settings),
        # No worker blocks forever: each call has its own timeout, the job a ceiling above them.
        job_timeout=int(settings.outbound_timeout * targets * 2 + 60),
        description=f"forward {row['reference']} {row['event']}",
    )


def reconcile(runtime: Runtime, *, older_than: timedelta = SWEEP_AFTER) -> list[str]:
    """Queue again every open event whose job is gone: never queued (a process died between
    claim and queue), or lost from Redis (restarted without persistence, or expired). Run by
    the clock process every minute; returns the references it queued again.

    Only events untouched for `older_than`, so an event another process is queueing right now
    is left to it.
    """
    store = runtime.store
    found = []
    for row in store.forwards.open_before(utcnow() - older_than):
        if row["job_id"] is not None:
            if Job.exists(row["job_id"], connection=runtime.redis):
                continue
            store.forwards.release_enqueue(row["id"])
            row = {**row, "job_id": None}
        if enqueue_event(runtime, row):
            found.append(row["reference"])
            log.warning("forward of %s %s had no job: queued again", row["reference"], row["event"])
    return found


def refresh_status(store: Store, referral: Referral) -> str:
    assert referral.id is not None
    status = store.forwards.referral_forward_status(referral.id)
    if status != referral.forward_status:
        store.update_referral(referral.id, forward_status=status)
        referral.forward_status = status
    return status
