"""Search by what people wrote, on SQLite and PostgreSQL: the index is kept by the store itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from intake.models import InboundMessage, Referral
from intake.reference import new_reference
from intake.store import QueueFilter, Store
from intake.store.search import query_terms, terms

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.from_url(database_url)
    s.upgrade()
    yield s
    s.drop_schema()
    s.dispose()


def make(store: Store, body: str, provider_id: str, sender: str = "+447700900123") -> Referral:
    msg = InboundMessage("sms", provider_id, sender, "+447700900001", body, T0)
    referral = Referral(
        reference=new_reference(),
        channel="sms",
        sender=sender,
        received_at=T0,
        raw_text=body,
        fields={"name": "Siân Evans", "phone": "+447700900555"},
    )
    return store.create_referral(referral, msg)


def found(store: Store, query: str) -> set[str]:
    page = store.worklist.queue(QueueFilter(status="all", search=query))
    return {row.referral.reference for row in page.rows}


def test_words_names_numbers_and_references_are_found(store: Store) -> None:
    lodge = make(store, "My mum is at Willow Lodge and they want to move her", "SM1")
    other = make(store, "I need help with a complaint about my GP", "SM2", "+447700900999")
    assert found(store, "Willow Lodge") == {lodge.reference}
    assert found(store, "willow") == {lodge.reference}
    assert found(store, "lodge willow") == {lodge.reference}  # every word, in any order
    assert found(store, "Willow Park") == set()
    assert found(store, "sian") == found(store, "SIÂN") == {lodge.reference, other.reference}
    assert found(store, "07700 900999") == {other.reference}  # the sender, as typed nationally
    assert found(store, "+44 7700 900555") == {lodge.reference, other.reference}  # a field
    assert found(store, lodge.reference.lower()) == {lodge.reference}
    assert found(store, "x") == set()  # nothing to look for finds nothing, not everything


def test_a_later_message_and_an_edited_field_are_searchable_at_once(store: Store) -> None:
    referral = make(store, "hello", "SM1")
    assert referral.id is not None
    store.add_message(
        referral.id,
        InboundMessage("sms", "SM2", "+447700900123", "+447700900001", "she is at Rosemount", T0),
    )
    assert found(store, "rosemount") == {referral.reference}
    store.update_referral(referral.id, fields={"name": "Margaret Okafor"})
    assert found(store, "okafor") == {referral.reference}
    assert found(store, "evans") == set()  # the old value went with the edit


def test_terms_fold_accents_and_keep_addresses_and_numbers_whole() -> None:
    got = terms("Zoë wrote from zoe.b@example.org, call 07700 900123 re REF-7K2Q9D")
    assert {"zoe", "zoe.b@example.org", "447700900123", "ref-7k2q9d"} <= got
    assert query_terms("07700 900123") == ["447700900123"]
    assert query_terms("REF-7K2Q9D") == ["ref-7k2q9d"]


def test_every_kind_of_reference_is_searched_as_a_reference_not_a_phone_number() -> None:
    # phonenumbers reads letters as a keypad's: REF-425JEC once searched for 44425532.
    for _ in range(300):
        reference = new_reference()
        canonical = "ref-" + reference[4:].lower()
        for typed in (reference, reference.lower(), reference.replace("-", "")):
            assert query_terms(typed) == [canonical], typed
    assert query_terms("0800 FLOWERS") != ["44800356937"]  # letters are words, not digits


def test_paging_says_how_many_match(store: Store) -> None:
    for n in range(7):
        make(store, f"message number {n}", f"SM{n}")
    page = store.worklist.queue(QueueFilter(), limit=3, offset=3)
    assert (page.total, len(page.rows), page.offset, page.has_more) == (7, 3, 3, True)
    assert page.by_urgency == {"emergency": 0, "urgent": 0, "routine": 7}
    assert page.needing_action["routine"] == 7
