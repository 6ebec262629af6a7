"""The forwarding tables on SQLite and PostgreSQL: one event per (reference, event id), attempts."""

from __future__ import annotations

from intake import forwarding
from intake.store import Store

FIRST_TEXT = "My dad is in a care home and they are restraining him. We need an advocate."


def test_events_are_unique_and_attempts_recorded(database_url: str) -> None:
    from datetime import UTC, datetime

    from intake.models import InboundMessage, Referral

    store = Store.from_url(database_url)
    store.upgrade()
    try:
        received = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
        referral = store.create_referral(
            Referral("RSTORE1", "sms", "+447700900140", received, FIRST_TEXT, urgency="urgent"),
            InboundMessage("sms", "SM" + "e" * 32, "+447700900140", "+447700900001", FIRST_TEXT),
        )
        claim = {
            "referral_id": referral.id,
            "reference": referral.reference,
            "event": "created",
            "event_id": "created",
            "priority": "high",
        }
        row_id = store.forwards.claim_event(**claim)
        assert row_id is not None
        assert store.forwards.claim_event(**claim) is None
        row = store.forwards.get_event(referral.reference, "created")
        assert row is not None
        for attempt, outcome, code in ((1, "retry", 503), (2, "rejected", 400)):
            store.forwards.record_attempt(event_row=row,
                attempt=attempt,
                target="webhook",
                destination="https://cases.example.org/in",
                status_code=code,
                latency_ms=12.5,
                outcome=outcome,
                error=f"HTTP {code}",
            )
        store.forwards.update_event(row_id, status="rejected")
        assert store.forwards.settled_targets(row) == {"webhook": "rejected"}
        assert store.forwards.settled_targets({**row, "replay_after": 2}) == {}
        assert [a["outcome"] for a in forwarding.attempts(store, referral.id)] == [
            "retry",
            "rejected",
        ]
        [failed] = forwarding.failed(store)
        assert (failed["reference"], failed["attempts"], failed["status_code"]) == (
            "RSTORE1",
            2,
            400,
        )
        assert store.forwards.referral_forward_status(referral.id) == "forward_failed"
    finally:
        store.drop_schema()
        store.dispose()
