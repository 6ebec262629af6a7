"""What was forwarded to the case system, and every attempt to do it.

- `forward_events`: one row per referral event to deliver (`created`, `updated`), unique on
  `(reference, event_id)`. Claiming the row before enqueueing is what keeps forwarding idempotent:
  a re-run of the same job finds the row taken and enqueues nothing.
- `forward_attempts`: one row per attempt per target (time, target, status code, latency, outcome,
  error), the trail a service needs when a case system says "we never got it".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import forward_attempts, forward_events, referrals

# Event states: queued (waiting for a worker), retrying (an attempt failed, another is scheduled),
# delivered, failed (every attempt used up), rejected (the case system refused it: no retry).
OPEN_STATES = ("queued", "retrying")
FAILED_STATES = ("failed", "rejected")


class Forwards(Queries):
    """`store.forwards`."""

    def claim_event(
        self,
        *,
        referral_id: int,
        reference: str,
        event: str,
        event_id: str,
        priority: str,
        state: str | None = None,
    ) -> int | None:
        """Record an event to deliver; `None` when `(reference, event_id)` is recorded already."""
        now = utcnow()
        try:
            with self.db.attempt() as conn:
                return conn.execute(
                    forward_events.insert()
                    .values(
                        referral_id=referral_id,
                        reference=reference,
                        event_id=event_id,
                        event=event,
                        status="queued",
                        priority=priority,
                        state=state,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(forward_events.c.id)
                ).scalar_one()
        except IntegrityError:
            return None

    def get_event(self, reference: str, event_id: str) -> dict[str, Any] | None:
        query = sa.select(forward_events).where(
            forward_events.c.reference == reference, forward_events.c.event_id == event_id
        )
        with self.db.read() as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row else None

    def events_for(self, referral_id: int) -> list[dict[str, Any]]:
        query = (
            sa.select(forward_events)
            .where(forward_events.c.referral_id == referral_id)
            .order_by(forward_events.c.id)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def update_event(self, event_row_id: int, **values: Any) -> None:
        values["updated_at"] = utcnow()
        with self.db.transaction() as conn:
            conn.execute(
                forward_events.update().where(forward_events.c.id == event_row_id).values(**values)
            )

    def record_attempt(
        self,
        *,
        event_row: dict[str, Any],
        attempt: int,
        target: str,
        destination: str,
        status_code: int | None,
        latency_ms: float | None,
        outcome: str,
        error: str | None,
    ) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                forward_attempts.insert().values(
                    forward_event_id=event_row["id"],
                    referral_id=event_row["referral_id"],
                    at=utcnow(),
                    attempt=attempt,
                    target=target,
                    destination=destination,
                    status_code=status_code,
                    latency_ms=latency_ms,
                    outcome=outcome,
                    error=error,
                )
            )

    def attempt_count(self, event_row_id: int) -> int:
        """How many times this event has been tried (an attempt may cover several targets)."""
        query = sa.select(sa.func.max(forward_attempts.c.attempt)).where(
            forward_attempts.c.forward_event_id == event_row_id
        )
        with self.db.read() as conn:
            return int(conn.execute(query).scalar_one() or 0)

    def settled_targets(self, event_row: dict[str, Any]) -> dict[str, str]:
        """Targets this event is done with: `delivered` ever, or `rejected` since the last replay.

        A retry sends only to the others, so a case system that took the event never gets it twice
        because another one was down.
        """
        query = (
            sa.select(
                forward_attempts.c.target, forward_attempts.c.outcome, forward_attempts.c.attempt
            )
            .where(
                forward_attempts.c.forward_event_id == event_row["id"],
                forward_attempts.c.outcome.in_(("delivered", "rejected")),
            )
            .order_by(forward_attempts.c.id)
        )
        settled: dict[str, str] = {}
        with self.db.read() as conn:
            for target, outcome, attempt in conn.execute(query):
                counts = attempt > event_row["replay_after"] and settled.get(target) != "delivered"
                if outcome == "delivered" or counts:
                    settled[target] = outcome
        return settled

    def attempts_for(self, referral_id: int) -> list[dict[str, Any]]:
        query = (
            sa.select(
                forward_attempts,
                forward_events.c.event,
                forward_events.c.event_id,
                forward_events.c.reference,
            )
            .join(forward_events, forward_events.c.id == forward_attempts.c.forward_event_id)
            .where(forward_attempts.c.referral_id == referral_id)
            .order_by(forward_attempts.c.at, forward_attempts.c.id)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def failed_events(self) -> list[dict[str, Any]]:
        """Events that used up their attempts or were refused, most urgent referral first."""
        query = (
            sa.select(
                forward_events,
                referrals.c.urgency,
                referrals.c.urgency_rank,
                referrals.c.forward_status,
            )
            .join(referrals, referrals.c.id == forward_events.c.referral_id)
            .where(forward_events.c.status.in_(FAILED_STATES))
            .order_by(referrals.c.urgency_rank, forward_events.c.updated_at, forward_events.c.id)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def last_attempt(self, event_row_id: int) -> dict[str, Any] | None:
        query = (
            sa.select(forward_attempts)
            .where(
                forward_attempts.c.forward_event_id == event_row_id,
                forward_attempts.c.outcome != "delivered",
            )
            .order_by(forward_attempts.c.id.desc())
            .limit(1)
        )
        with self.db.read() as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row else None

    def referral_forward_status(self, referral_id: int) -> str:
        """The referral's `forward_status` from its events: failed, pending, or delivered."""
        states = {e["status"] for e in self.events_for(referral_id)}
        if states & set(FAILED_STATES):
            return "forward_failed"
        if "retrying" in states:
            return "retrying"
        if "queued" in states:
            return "queued"
        return "delivered"

    def forget(self, event_row_id: int) -> None:
        """Drop a claim whose enqueue failed, so the caller's retry claims it again."""
        with self.db.transaction() as conn:
            conn.execute(forward_events.delete().where(forward_events.c.id == event_row_id))

    def take_enqueue(self, event_row_id: int, job_id: str) -> bool:
        """Claim the right to queue an event's job: True for exactly one caller.

        A conditional UPDATE (`job_id IS NULL`), so two jobs finding the same unqueued event
        never queue it twice.
        """
        with self.db.transaction() as conn:
            done = conn.execute(
                forward_events.update()
                .where(forward_events.c.id == event_row_id, forward_events.c.job_id.is_(None))
                .values(job_id=job_id, updated_at=utcnow())
            )
        return bool(done.rowcount)

    def release_enqueue(self, event_row_id: int) -> None:
        """The queueing failed: let the next caller (a retry, the sweep) queue it."""
        self.update_event(event_row_id, job_id=None)

    def unqueued(self, referral_id: int) -> list[dict[str, Any]]:
        """A referral's open events whose job was never queued (a process died in between)."""
        query = (
            sa.select(forward_events)
            .where(
                forward_events.c.referral_id == referral_id,
                forward_events.c.status.in_(OPEN_STATES),
                forward_events.c.job_id.is_(None),
            )
            .order_by(forward_events.c.id)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def open_before(self, before: datetime) -> list[dict[str, Any]]:
        """Every open event last touched before `before`, oldest first (for the sweep)."""
        query = (
            sa.select(forward_events)
            .where(forward_events.c.status.in_(OPEN_STATES), forward_events.c.updated_at < before)
            .order_by(forward_events.c.id)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
