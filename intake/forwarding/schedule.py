"""Queueing referral events for delivery: claimed in the store first, so nothing is sent twice."""

from __future__ import annotations

import logging
from typing import Any

from intake.config import Settings
from intake.forwarding.policy import (
    EVENTS,
    event_id_for,
    priority_for,
    remote_forwarders,
    retry_policy,
    state_digest,
)
from intake.models import Referral
from intake.queue import FORWARD_REFERRAL, PRIORITIES, enqueue, safe_job_id
from intake.runtime import Runtime
from intake.store import Store
from intake.store.forwards import OPEN_STATES

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
    state = state_digest(referral, store.messages_for(referral.id))
    earlier = store.forwards.events_for(referral.id)
    if event == "updated" and earlier and earlier[-1]["state"] == state:
        return False  # the case system has this already
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
        row = store.forwards.get_event(referral.reference, event_id)
        if row is None or row["job_id"] or row["status"] not in OPEN_STATES:
            return False  # already queued, running or finished
        # A claim whose enqueue never happened (the process died in between): finish it.
    else:
        row = store.forwards.get_event(referral.reference, event_id)
        assert row is not None
    try:
        enqueue_event(runtime, row)
    except Exception:
        if row_id is not None:
            store.forwards.forget(row_id)  # so the caller's retry claims and enqueues it again
        raise
    refresh_status(store, referral)
    log.info("forward of %s %s queued on %s", referral.reference, event, row["priority"])
    return True


def _job_id(settings: Settings, row: dict[str, Any]) -> str:
    return safe_job_id(settings.queue_prefix, "fwd", row["reference"], row["event_id"])


def enqueue_event(runtime: Runtime, row: dict[str, Any]) -> None:
    settings = runtime.settings
    job_id = _job_id(settings, row)
    targets = max(1, len(remote_forwarders(settings)))
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
    runtime.store.forwards.update_event(row["id"], job_id=job_id)


def refresh_status(store: Store, referral: Referral) -> str:
    assert referral.id is not None
    status = store.forwards.referral_forward_status(referral.id)
    if status != referral.forward_status:
        store.update_referral(referral.id, forward_status=status)
        referral.forward_status = status
    return status
