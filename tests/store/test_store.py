"""The store on SQLite and PostgreSQL: idempotency, ordering, outbound claims, audit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from intake.models import InboundMessage, Referral
from intake.reference import new_reference
from intake.store import DuplicateMessage, Store

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.from_url(database_url)
    s.upgrade()
    yield s
    s.drop_schema()
    s.dispose()


def message(provider_id: str, body: str = "help", at: datetime = T0) -> InboundMessage:
    return InboundMessage("sms", provider_id, "+447700900123", "+447700900001", body, at)


def referral(msg: InboundMessage, urgency: str = "routine") -> Referral:
    return Referral(
        reference=new_reference(),
        channel=msg.channel,
        sender=msg.sender,
        received_at=msg.received_at,
        raw_text=msg.body,
        urgency=urgency,
        safeguarding=["neglect"] if urgency != "routine" else [],
        screening={"urgency": urgency},
        fields={"name": "Sam"},
    )


def test_create_and_read_back(store: Store) -> None:
    msg = message("SM1", "Ça va? I need help — urgently 🙏")
    created = store.create_referral(referral(msg, "urgent"), msg)
    found = store.get_referral(created.reference)
    assert found is not None
    assert found.raw_text == msg.body
    assert found.received_at == T0  # aware UTC on every backend
    assert found.safeguarding == ["neglect"]
    assert found.fields == {"name": "Sam"}
    assert store.find_referral_for_message("sms", "SM1") == found
    assert [m["body"] for m in store.messages_for(found.id or 0)] == [msg.body]


def test_same_provider_id_twice_is_a_duplicate(store: Store) -> None:
    msg = message("SM1")
    store.create_referral(referral(msg), msg)
    with pytest.raises(DuplicateMessage):
        store.create_referral(referral(msg), msg)
    assert store.count_referrals() == 1


def test_same_provider_id_on_another_channel_is_not_a_duplicate(store: Store) -> None:
    msg = message("X1")
    store.create_referral(referral(msg), msg)
    other = InboundMessage("email", "X1", "a@example.org", "referrals@example.org", "hi", T0)
    store.create_referral(referral(other), other)
    assert store.count_referrals() == 2


def test_queue_order_is_most_urgent_then_oldest(store: Store) -> None:
    plan = [
        ("SM1", "routine", 0),
        ("SM2", "urgent", 5),
        ("SM3", "emergency", 9),
        ("SM4", "urgent", 1),
    ]
    for sid, urgency, minutes in plan:
        msg = message(sid, at=T0 + timedelta(minutes=minutes))
        store.create_referral(referral(msg, urgency), msg)
    order = [r.urgency for r in store.list_referrals()]
    assert order == ["emergency", "urgent", "urgent", "routine"]
    urgent = store.list_referrals(urgency="urgent")
    assert [r.received_at for r in urgent] == [T0 + timedelta(minutes=1), T0 + timedelta(minutes=5)]


def test_outbound_claim_is_at_most_once(store: Store) -> None:
    msg = message("SM1")
    ref = store.create_referral(referral(msg), msg)
    kwargs = dict(referral_id=ref.id, kind="ack", channel="sms", recipient=msg.sender, body="hi")
    first = store.claim_outbound(**kwargs, dedupe_key="ack:1")
    assert first is not None
    assert store.claim_outbound(**kwargs, dedupe_key="ack:1") is None
    store.release_outbound(first)
    again = store.claim_outbound(**kwargs, dedupe_key="ack:1")
    assert again is not None
    store.finish_outbound(again, status="sent", provider_id="SMx")
    [row] = store.outbound_for(ref.id or 0)
    assert (row["status"], row["provider_id"]) == ("sent", "SMx")


def test_audit_trail(store: Store) -> None:
    msg = message("SM1")
    ref = store.create_referral(referral(msg), msg)
    store.audit(
        "advocate@example.org", "referral.viewed", referral_id=ref.id, detail={"via": "test"}
    )
    created, entry = store.audit_for(ref.id)  # creation is audited in the same transaction
    assert (created["actor"], created["action"]) == ("system", "referral.created")
    assert (entry["actor"], entry["action"], entry["detail"]) == (
        "advocate@example.org",
        "referral.viewed",
        {"via": "test"},
    )


def test_queue_orders_by_deadline_within_urgency_and_lifts_a_close_one(store: Store) -> None:
    from datetime import date

    from intake.store import QueueFilter

    def made(pid: str, urgency: str, deadline: str | None, minutes: int) -> str:
        msg = message(pid, at=T0 + timedelta(minutes=minutes))
        r = referral(msg, urgency)
        if deadline:
            r.screening["deadline"] = {"date": deadline, "text": "tribunal deadline"}
        return store.create_referral(r, msg).reference

    no_deadline = made("SM1", "routine", None, 0)
    far = made("SM2", "routine", "2026-12-20", 1)
    near = made("SM3", "routine", "2026-12-08", 2)
    close = made("SM4", "routine", "2026-11-26", 3)
    urgent = made("SM5", "urgent", None, 4)
    order = [r.referral.reference for r in store.worklist.queue(QueueFilter()).rows]
    # within one urgency, the nearest deadline first, those without one last
    assert order == [urgent, close, near, far, no_deadline]
    today = date(2026, 11, 24)
    lifted = store.worklist.queue(QueueFilter(), today=today, deadline_days=3).rows
    # two days to go: ordered with the urgent ones, its stored urgency unchanged
    assert [r.referral.reference for r in lifted][:2] == [close, urgent]
    assert lifted[0].referral.urgency == "routine"
    found = store.get_referral(near)
    assert found is not None and found.id is not None
    store.update_referral(found.id, screening={"urgency": "routine"})
    order = [r.referral.reference for r in store.worklist.queue(QueueFilter()).rows]
    assert order == [urgent, close, far, no_deadline, near]
def test_keyset_pages_follow_the_list_order_without_gaps_or_repeats(store: Store) -> None:
    """`after=` pages (issue 20) give exactly the rows OFFSET pages give, ties on time included."""
    urgencies = ["routine", "urgent", "emergency", "soon"]
    for i in range(23):
        # shared times: the id breaks ties
        msg = message(f"SM{i}", at=T0 + timedelta(minutes=i % 5))
        store.create_referral(referral(msg, urgencies[i % 4]), msg)
    whole = [r.id for r in store.list_referrals(limit=100)]
    paged: list[int | None] = []
    after: str | None = None
    while True:
        page = store.list_referrals(limit=5, after=after)
        paged += [r.id for r in page]
        if len(page) < 5:
            break
        after = store.list_cursor(page[-1])
    assert paged == whole
    with pytest.raises(ValueError):
        store.list_referrals(after="not-a-cursor")


def test_queue_keyset_pages_match_the_queue_order(store: Store) -> None:
    urgencies = ["routine", "urgent", "emergency"]
    for i in range(17):
        msg = message(f"SM{i}", at=T0 + timedelta(minutes=i % 4))
        made = store.create_referral(referral(msg, urgencies[i % 3]), msg)
        if i % 4 == 0:
            assert made.id is not None
            store.update_referral(made.id, status="triaged")
    whole = store.worklist.queue(limit=100)
    seen = []
    after = None
    while True:
        page = store.worklist.queue(limit=4, after=after)
        assert page.total == whole.total
        seen += [row.referral.id for row in page.rows]
        if len(page.rows) < 4:
            break
        after = page.rows[-1].cursor
    assert seen == [row.referral.id for row in whole.rows]


def test_queue_keyset_pages_follow_deadlines_and_lifts_too(store: Store) -> None:
    """The queue's cursor carries the deadline and the lifted rank (issues 17 and 20 together)."""
    from datetime import date

    deadlines = [None, "2026-11-26", "2026-12-08", None, "2026-11-25", "2026-12-20"]
    for i in range(18):
        msg = message(f"SM{i}", at=T0 + timedelta(minutes=i % 4))
        r = referral(msg, ["routine", "urgent", "emergency"][i % 3])
        when = deadlines[i % len(deadlines)]
        if when:
            r.screening["deadline"] = {"date": when, "text": "tribunal deadline"}
        store.create_referral(r, msg)
    today = date(2026, 11, 24)
    for lifted in ({}, {"today": today, "deadline_days": 3}):
        whole = store.worklist.queue(limit=100, **lifted)  # type: ignore[arg-type]
        seen = []
        after = None
        while True:
            page = store.worklist.queue(limit=4, after=after, **lifted)  # type: ignore[arg-type]
            seen += [row.referral.id for row in page.rows]
            if len(page.rows) < 4:
                break
            after = page.rows[-1].cursor
        assert seen == [row.referral.id for row in whole.rows]
    with pytest.raises(ValueError):
        store.worklist.queue(after="1.2.3.4")


def test_a_pinned_job_is_one_connection_and_each_transaction_stays_atomic(store: Store) -> None:
    """`Store.pinned` (issue 20): on PostgreSQL a job's reads and writes share one checkout; a
    block that fails is rolled back alone, a duplicate is still refused, and what committed is
    visible to everyone else. On SQLite it changes nothing."""
    import sqlalchemy as sa

    checkouts: list[int] = []
    sa.event.listen(store.engine, "checkout", lambda *_args: checkouts.append(1))
    msg = message("SM1")
    with store.pinned():
        created = store.create_referral(referral(msg), msg)
        assert created.id is not None
        assert store.get_referral(created.reference) is not None
        with pytest.raises(RuntimeError), store.transaction():
            store.update_referral(created.id, status="triaged")
            raise RuntimeError("the job failed half way")
        found = store.get_referral(created.reference)
        assert found is not None and found.status == "open"
        with pytest.raises(DuplicateMessage):
            store.create_referral(referral(msg), msg)
        store.update_referral(created.id, status="triaged")
    if store.engine.dialect.name == "postgresql":
        assert len(checkouts) == 1
    other = Store.from_url(store.engine.url.render_as_string(hide_password=False))
    again = other.get_referral(created.reference)
    assert again is not None and again.status == "triaged"
    assert other.count_referrals() == 1
    other.dispose()
