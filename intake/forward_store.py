"""What was forwarded to the case system, and every attempt to do it.

Two tables on the shared `metadata`:
- `forward_events`: one row per referral event to deliver (`created`, `updated`), unique on
  `(reference, event_id)`. Claiming the row before enqueueing is what keeps the pipeline idempotent:
  a re-run of the same job finds the row taken and enqueues nothing.
- `forward_attempts`: one row per attempt per target (time, target, status code, latency, outcome,
  error), the audit trail a service needs when a case system says "we never got it".

The tables are created on first use (`ensure`), so they exist whichever process imports this module
first; `Store.create_schema` also creates them once the module is imported.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from intake.models import utcnow
from intake.store import Store, UTCDateTime, metadata, referrals

# Event states: queued (waiting for a worker), retrying (an attempt failed, another is scheduled),
# delivered, failed (every attempt used up), rejected (the case system refused it: no retry).
OPEN_STATES = ("queued", "retrying")
FAILED_STATES = ("failed", "rejected")

forward_events = sa.Table(
    "forward_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("reference", sa.String(16), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="queued"),
    sa.Column("priority", sa.String(16), nullable=False, default="default"),
    sa.Column("job_id", sa.String(200), nullable=True),
    # Attempts up to this number came before the last replay: their rejections no longer count.
    sa.Column("replay_after", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    sa.UniqueConstraint("reference", "event_id", name="uq_forward_events_event"),
    sa.Index("ix_forward_events_referral", "referral_id"),
    sa.Index("ix_forward_events_status", "status"),
)

forward_attempts = sa.Table(
    "forward_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("forward_event_id", sa.Integer, sa.ForeignKey("forward_events.id"), nullable=False),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("target", sa.String(32), nullable=False),
    sa.Column("destination", sa.String(500), nullable=False, default=""),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),  # delivered, retry, failed, rejected
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_forward_attempts_referral", "referral_id", "at"),
    sa.Index("ix_forward_attempts_event", "forward_event_id"),
)

# Engines whose database has the tables; weak, so a new engine never inherits an old one's id.
_created: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = threading.Lock()


def ensure(store: Store) -> None:
    """Create the two tables on this database once per process (cheap after the first call)."""
    engine = store.engine
    if engine in _created:
        return
    with _lock:
        if engine not in _created:
            metadata.create_all(engine, tables=[forward_events, forward_attempts])
            _created.add(engine)


def claim_event(
    store: Store, *, referral_id: int, reference: str, event: str, event_id: str, priority: str
) -> int | None:
    """Record an event to deliver; `None` when this `(reference, event_id)` is already recorded."""
    ensure(store)
    now = utcnow()
    try:
        with store.engine.begin() as conn:
            return conn.execute(
                forward_events.insert()
                .values(
                    referral_id=referral_id,
                    reference=reference,
                    event_id=event_id,
                    event=event,
                    status="queued",
                    priority=priority,
                    created_at=now,
                    updated_at=now,
                )
                .returning(forward_events.c.id)
            ).scalar_one()
    except IntegrityError:
        return None


def get_event(store: Store, reference: str, event_id: str) -> dict[str, Any] | None:
    ensure(store)
    query = sa.select(forward_events).where(
        forward_events.c.reference == reference, forward_events.c.event_id == event_id
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def events_for(store: Store, referral_id: int) -> list[dict[str, Any]]:
    ensure(store)
    query = (
        sa.select(forward_events)
        .where(forward_events.c.referral_id == referral_id)
        .order_by(forward_events.c.id)
    )
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def update_event(store: Store, event_row_id: int, **values: Any) -> None:
    values["updated_at"] = utcnow()
    with store.engine.begin() as conn:
        conn.execute(
            forward_events.update().where(forward_events.c.id == event_row_id).values(**values)
        )


def record_attempt(
    store: Store,
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
    with store.engine.begin() as conn:
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


def attempt_count(store: Store, event_row_id: int) -> int:
    """How many times this event has been tried (an attempt may cover several targets)."""
    query = sa.select(sa.func.max(forward_attempts.c.attempt)).where(
        forward_attempts.c.forward_event_id == event_row_id
    )
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one() or 0)


def settled_targets(store: Store, event_row: dict[str, Any]) -> dict[str, str]:
    """Targets this event is done with: `delivered` ever, or `rejected` since the last replay.

    A retry sends only to the others, so a case system that took the event never gets it twice
    because another one was down.
    """
    query = (
        sa.select(forward_attempts.c.target, forward_attempts.c.outcome, forward_attempts.c.attempt)
        .where(
            forward_attempts.c.forward_event_id == event_row["id"],
            forward_attempts.c.outcome.in_(("delivered", "rejected")),
        )
        .order_by(forward_attempts.c.id)
    )
    settled: dict[str, str] = {}
    with store.engine.connect() as conn:
        for target, outcome, attempt in conn.execute(query):
            counts = attempt > event_row["replay_after"] and settled.get(target) != "delivered"
            if outcome == "delivered" or counts:
                settled[target] = outcome
    return settled


def attempts_for(store: Store, referral_id: int) -> list[dict[str, Any]]:
    ensure(store)
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
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def failed_events(store: Store) -> list[dict[str, Any]]:
    """Events that used up their attempts or were refused, most urgent referral first."""
    ensure(store)
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
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def last_attempt(store: Store, event_row_id: int) -> dict[str, Any] | None:
    query = (
        sa.select(forward_attempts)
        .where(
            forward_attempts.c.forward_event_id == event_row_id,
            forward_attempts.c.outcome != "delivered",
        )
        .order_by(forward_attempts.c.id.desc())
        .limit(1)
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def referral_forward_status(store: Store, referral_id: int) -> str:
    """The referral's `forward_status` from its events: failed, pending, or delivered."""
    states = {e["status"] for e in events_for(store, referral_id)}
    if states & set(FAILED_STATES):
        return "forward_failed"
    if "retrying" in states:
        return "retrying"
    if "queued" in states:
        return "queued"
    return "delivered"
