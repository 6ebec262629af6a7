"""One attempt to deliver one referral event to every configured case system (the RQ job)."""

from __future__ import annotations

import logging
import time
from typing import Any

from rq import get_current_job

from intake.failures import ProviderError, Rejected
from intake.forwarding.base import ForwardEvent
from intake.forwarding.schedule import refresh_status
from intake.forwarding.targets import configured
from intake.models import SYSTEM_ACTOR
from intake.runtime import Runtime

log = logging.getLogger(__name__)


class ForwardingDeferred(Exception):
    """An attempt failed and another is scheduled: raised so that RQ applies the job's `Retry`."""


class ForwardingFailed(Exception):
    """The event could not be delivered: the job ends in RQ's FailedJobRegistry."""


def deliver(runtime: Runtime, reference: str, event_id: str) -> dict[str, Any]:
    """Run one attempt of one event (the body of the RQ job)."""
    settings, store = runtime.settings, runtime.store
    row = store.forwards.get_event(reference, event_id)
    referral = store.get_referral(reference)
    if row is None or referral is None or referral.id is None:
        log.warning("forward of %s %s: no such event, nothing to do", reference, event_id)
        return {"status": "missing"}
    if row["status"] in ("delivered", "cancelled"):
        return {"status": row["status"]}  # cancelled: the referral was erased before it went
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
        messages=[] if row["event"] == "erased" else store.messages_for(referral.id),
    )
    transient: list[str] = []
    for forwarder in configured(settings):
        if forwarder.name == "store" or forwarder.name in settled:
            continue
        if row["event"] not in forwarder.events:
            continue  # it cannot act on this event (Charitylog and Lamplight: updates)
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            status_code = forwarder.send(settings, event).status_code
            outcome = "delivered"
        except Rejected as exc:
            status_code, error, outcome = exc.status_code, str(exc), "rejected"
        except ProviderError as exc:  # Unreachable; Uncertain too: the Idempotency-Key dedupes
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
        refresh_status(store, referral)
        raise ForwardingDeferred(f"{reference} {event_id}: will retry {', '.join(transient)}")
    if transient or rejected:
        status = "failed" if transient else "rejected"
        store.forwards.update_event(row["id"], status=status)
        refresh_status(store, referral)
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
    refresh_status(store, referral)
    store.audit(
        SYSTEM_ACTOR,
        "referral.forwarded",
        referral_id=referral.id,
        detail={"event": row["event"], "event_id": event_id, "attempts": attempt},
    )
    return {"status": "delivered", "attempts": attempt}
