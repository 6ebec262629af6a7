"""The security tables on SQLite and PostgreSQL: sessions, throttling reads, flood incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from intake.models import InboundMessage, Referral
from intake.store import Store

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def _referral(store: Store, n: int, urgency: str = "emergency") -> int:
    made = store.create_referral(
        Referral(f"RSEC{n:03d}", "email", f"flood{n}@example.net", T0, "help", urgency=urgency),
        InboundMessage("email", f"flood-{n}", f"flood{n}@example.net", "r@x.org", "help"),
    )
    assert made.id is not None
    return made.id


def test_sessions_start_end_and_follow_their_account(database_url: str) -> None:
    store = Store.from_url(database_url)
    store.upgrade()
    try:
        store.users.add("Duty@Example.org", "hash", "advocate")
        later = datetime.now(UTC) + timedelta(hours=12)
        store.sessions.start("a" * 64, "duty@example.org", "192.0.2.1", later)
        store.sessions.start("b" * 64, "duty@example.org", "192.0.2.2", later)
        found = store.sessions.get("a" * 64)
        assert found is not None and found.ended_at is None and found.user_active
        assert found.password_changed_at is None
        store.users.set_password_hash("duty@example.org", "new hash")
        assert store.sessions.get("a" * 64).password_changed_at is not None  # type: ignore[union-attr]
        assert store.sessions.end("a" * 64, "logged out")
        assert not store.sessions.end("a" * 64, "again")
        assert store.sessions.end_all("DUTY@example.org", "disabled") == 1
        assert store.sessions.live("duty@example.org") == []
        assert store.sessions.purge(datetime.now(UTC) + timedelta(days=1)) == 2
        assert store.sessions.get("b" * 64) is None
    finally:
        store.dispose()


def test_throttling_reads_count_per_client_and_per_device(database_url: str) -> None:
    store = Store.from_url(database_url)
    store.upgrade()
    try:
        since = datetime.now(UTC) - timedelta(minutes=15)
        for n in range(3):
            store.users.record_attempt(f"guess{n}@example.org", False, "198.51.100.7")
        store.users.record_attempt("duty@example.org", False, "203.0.113.1", device="dev-1")
        store.users.record_attempt("duty@example.org", False, "203.0.113.2")
        assert len(store.users.client_failures("198.51.100.7", since)) == 3
        assert len(store.users.recent_failures("duty@example.org", since)) == 1
        assert len(store.users.recent_failures("duty@example.org", since, device="dev-1")) == 1
        store.users.record_attempt("duty@example.org", True, "203.0.113.1", device="dev-1")
        assert store.users.recent_failures("duty@example.org", since, device="dev-1") == []
        assert len(store.users.recent_failures("duty@example.org", since)) == 1  # not theirs
    finally:
        store.dispose()


def test_a_burst_is_one_incident_and_later_referrals_join_it(database_url: str) -> None:
    store = Store.from_url(database_url)
    store.upgrade()
    try:
        window = timedelta(minutes=5)
        ids = [_referral(store, n) for n in range(4)]
        incident, opened = store.incidents.record_burst("email", ids[:3], T0, window)
        assert opened
        at = T0 + timedelta(seconds=5)
        again, opened = store.incidents.record_burst("email", ids, at, window)
        assert (again, opened) == (incident, False)
        assert store.incidents.active_for(ids[3], T0) == incident
        [shown] = store.incidents.recent(T0 - timedelta(hours=1))
        assert (shown["referrals"], shown["emergencies"], shown["senders"]) == (4, 4, 4)
        assert [r["reference"] for r in store.incidents.references(incident)][:1] == ["RSEC000"]
        assert store.incidents.sender_known("email", "flood0@example.net", T0 + timedelta(1))
        assert not store.incidents.sender_known("email", "flood0@example.net", T0)
        later, opened = store.incidents.record_burst(
            "email", ids[:1], T0 + timedelta(hours=1), window
        )
        assert opened and later != incident  # after a quiet window, a new incident
        assert store.incidents.close(incident, "duty@example.org")
        assert not store.incidents.close(incident, "duty@example.org")
        assert [i["id"] for i in store.incidents.recent(T0 - timedelta(hours=1))] == [later]
    finally:
        store.dispose()
