"""Statutory deadlines from the eligibility card, and the urgency they lend (issue 17)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from intake import deadlines, pipeline
from intake.models import InboundMessage

MONDAY = date(2026, 11, 30)


def card(**values: str) -> dict[str, object]:
    return {"eligibility": values}


def test_tribunal_deadline_text_and_nearest() -> None:
    fields = card(tribunal_deadline="2026-12-03", decision_due="2026-12-10")
    due = deadlines.nearest(fields, MONDAY)
    assert due is not None and due.kind == "tribunal"
    assert due.text() == "tribunal deadline Thu 3 Dec"
    assert "s66" in due.source


def test_a_passed_deadline_is_not_the_nearest() -> None:
    fields = card(tribunal_deadline="2026-11-20", decision_due="2026-12-10")
    due = deadlines.nearest(fields, MONDAY)
    assert (
        due is not None and due.kind == "decision" and due.text() == "IMCA decision due Thu 10 Dec"
    )
    assert deadlines.nearest(card(tribunal_deadline="2026-11-20"), MONDAY) is None


def test_complaint_limit_is_twelve_months_from_the_event() -> None:
    due = deadlines.nearest(card(incident_date="2025-12-02"), MONDAY)
    assert due is not None and due.on == date(2026, 12, 2) and due.kind == "complaint"
    leap = deadlines.deadlines(card(incident_date="2028-02-29"))
    assert leap[0].on == date(2029, 2, 28)


def test_within_the_days_a_routine_screen_becomes_urgent_and_says_why() -> None:
    fields = card(tribunal_deadline="2026-12-03")
    out = deadlines.apply({"urgency": "routine"}, fields, MONDAY, 3)
    assert out["urgency"] == "urgent" and out["deadline_floor"] == "urgent"
    assert out["deadline"]["text"] == "tribunal deadline Thu 3 Dec" and out["deadline"]["days"] == 3
    later = deadlines.apply({"urgency": "routine"}, fields, MONDAY, 2)
    assert later["urgency"] == "routine" and "deadline_floor" not in later
    assert later["deadline"]["date"] == "2026-12-03"
    # never lowers
    assert deadlines.apply({"urgency": "emergency"}, fields, MONDAY, 3)["urgency"] == "emergency"
    # a card without a coming deadline removes an old note
    stale = {"urgency": "urgent", "deadline": {"date": "2026-11-01"}, "deadline_floor": "urgent"}
    assert deadlines.apply(stale, {}, MONDAY, 3) == {"urgency": "urgent"}


def test_a_bad_date_on_a_card_edited_by_hand_is_skipped() -> None:
    assert deadlines.deadlines(card(tribunal_deadline="next week")) == []
    assert deadlines.deadline_on({"deadline": {"date": "soon"}}) is None


def test_build_referral_applies_the_deadline() -> None:
    # screening alone reads this as routine; the complaint's 12 months run out on Thursday
    text = (
        "I would like help to complain about my GP surgery, "
        "they refused to refer me on 3 December 2025."
    )
    received = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesday
    message = InboundMessage("email", "X1", "a@example.org", "in@example.org", text, received)
    referral = pipeline.build_referral(message, 3)
    assert referral.fields["eligibility"]["incident_date"] == "2025-12-03"
    assert referral.urgency == "urgent" and referral.screening["deadline_floor"] == "urgent"
    assert referral.screening["deadline"]["text"] == "complaint time limit Thu 3 Dec"
    calm = pipeline.build_referral(message, 1)
    assert calm.urgency == "routine" and "deadline_floor" not in calm.screening
    assert calm.screening["deadline"]["days"] == 2
