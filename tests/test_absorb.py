"""`intake.absorb`: the one policy for a later message joining a referral (pure unit tests).

Every value is built by hand (`Referral`, `InboundMessage`, `ScreeningResult`): nothing is
screened, extracted or stored, so each rule of the module docstring is checked on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from intake.absorb import REOPENED, decide, screening_with_floor
from intake.models import InboundMessage, Referral
from intake.screening import ScreeningResult

ADVOCATE = "advocate@example.org"
SENDER = "+447700900555"
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def referral(
    urgency: str = "routine",
    *,
    status: str = "open",
    decided_by: str | None = None,
    fields: dict[str, Any] | None = None,
    safeguarding: tuple[str, ...] = (),
    safe_to_contact: bool = True,
) -> Referral:
    return Referral(
        reference="REF-ABS001",
        channel="sms",
        sender=SENDER,
        received_at=datetime(2026, 3, 2, 9, 15, tzinfo=UTC),
        raw_text="the first message",
        urgency=urgency,
        safeguarding=list(safeguarding),
        screening={"urgency": urgency},
        fields=dict(fields or {}),
        status=status,
        safe_to_contact=safe_to_contact,
        urgency_decided_by=decided_by,
        id=7,
    )


def message(
    body: str = "a later message",
    *,
    channel: str = "sms",
    provider_id: str = "SM" + "5" * 32,
    urgency_floor: str | None = None,
    review_reason: str | None = None,
    facts: dict[str, Any] | None = None,
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        provider_id=provider_id,
        sender=SENDER,
        recipient="+447700900001",
        body=body,
        received_at=AT,
        urgency_floor=urgency_floor,
        review_reason=review_reason,
        facts=dict(facts or {}),
    )


def screened(
    urgency: str = "routine",
    *,
    safeguarding: tuple[str, ...] = (),
    safe_to_contact: bool = True,
    needs_review: str | None = None,
) -> ScreeningResult:
    return ScreeningResult(
        urgency=urgency,
        safeguarding=list(safeguarding),
        safe_to_contact=safe_to_contact,
        needs_review=needs_review,
    )


# -- urgency: never lowered automatically, raised when screening is higher ---------------------


@pytest.mark.parametrize(
    ("current", "now"),
    [("emergency", "routine"), ("emergency", "urgent"), ("urgent", "routine")],
)
def test_a_calmer_conversation_is_flagged_for_review_not_lowered(current: str, now: str) -> None:
    change = decide(referral(current), message(), screened(now), {}, how="conversation")
    assert change.raise_to is None
    assert change.alert is None
    assert change.screening["urgency"] == current  # the urgency shown stays where it was
    assert change.screening["needs_review"]
    reason = change.screening["review_reason"]
    assert now in reason and current in reason
    assert change.audit == []


def test_a_calmer_conversation_keeps_a_review_reason_screening_already_gave() -> None:
    change = decide(
        referral("urgent"),
        message(review_reason="voicemail not yet transcribed"),
        screened("routine"),
        {},
        how="conversation",
    )
    assert change.screening["urgency"] == "urgent"
    assert change.screening["review_reason"] == "voicemail not yet transcribed"


def test_the_same_urgency_changes_nothing_and_asks_for_no_review() -> None:
    change = decide(referral("urgent"), message(), screened("urgent"), {}, how="conversation")
    assert change.raise_to is None
    assert change.alert is None
    assert change.screening["urgency"] == "urgent"
    assert not change.screening["needs_review"]
    assert "review_reason" not in change.screening


def test_a_higher_screening_raises_without_an_alert_below_emergency() -> None:
    change = decide(referral("routine"), message(), screened("urgent"), {}, how="conversation")
    assert change.raise_to == "urgent"
    assert change.alert is None
    assert change.screening["urgency"] == "urgent"
    assert change.audit == []


@pytest.mark.parametrize("current", ["routine", "urgent"])
def test_a_raise_to_emergency_asks_for_an_escalated_alert(current: str) -> None:
    change = decide(referral(current), message(), screened("emergency"), {}, how="conversation")
    assert change.raise_to == "emergency"
    assert change.alert == "escalated"
    assert change.screening["urgency"] == "emergency"


def test_an_emergency_that_stays_an_emergency_is_not_raised_or_alerted_again() -> None:
    change = decide(referral("emergency"), message(), screened("emergency"), {}, how="headers")
    assert change.raise_to is None
    assert change.alert is None


# -- a person's decision stands ---------------------------------------------------------------


def test_an_emergency_above_a_persons_decision_keeps_it_marks_flags_and_alerts() -> None:
    decided = referral("routine", decided_by=ADVOCATE)
    change = decide(decided, message(), screened("emergency"), {}, how="conversation")
    assert change.raise_to is None  # the advocate's urgency is not overwritten
    assert change.screening["urgency"] == "routine"
    assert change.mark_new_message is True
    assert change.screening["needs_review"]
    reason = change.screening["review_reason"]
    assert "routine" in reason  # names the urgency that was kept
    assert "emergency" in reason
    assert change.audit == [
        ("referral.screened_above_decision", {"screened": "emergency", "kept": "routine"})
    ]
    assert change.alert == "screened"
    assert change.reopen is False


def test_an_urgent_screening_above_a_persons_decision_is_flagged_but_not_alerted() -> None:
    decided = referral("routine", decided_by=ADVOCATE)
    change = decide(decided, message(), screened("urgent"), {}, how="conversation")
    assert change.raise_to is None
    assert change.screening["urgency"] == "routine"
    assert change.mark_new_message is True
    assert change.screening["needs_review"]
    assert "routine" in change.screening["review_reason"]
    assert change.audit == [
        ("referral.screened_above_decision", {"screened": "urgent", "kept": "routine"})
    ]
    assert change.alert is None


def test_a_decision_stands_against_a_channel_floor_too() -> None:
    decided = referral("urgent", decided_by=ADVOCATE)
    floor = message(urgency_floor="emergency", review_reason="caller pressed the emergency key")
    change = decide(decided, floor, screened("routine"), {}, how="revision")
    assert change.raise_to is None
    assert change.screening["urgency"] == "urgent"
    assert change.alert == "screened"
    assert change.audit == [
        ("referral.screened_above_decision", {"screened": "emergency", "kept": "urgent"})
    ]


@pytest.mark.parametrize("now", ["routine", "urgent"])
def test_a_message_at_or_below_a_decision_still_marks_it_for_a_person(now: str) -> None:
    decided = referral("urgent", decided_by=ADVOCATE)
    change = decide(decided, message(), screened(now), {}, how="conversation")
    assert change.raise_to is None
    assert change.alert is None
    assert change.audit == []
    assert change.screening["urgency"] == "urgent"
    assert change.mark_new_message is True  # a person decided: a new message is news to them


# -- new message since triage; a closed referral is reopened ----------------------------------


def test_a_message_joining_an_open_undecided_referral_marks_nothing() -> None:
    change = decide(referral(), message(), screened(), {}, how="conversation")
    assert change.mark_new_message is False
    assert change.reopen is False


def test_a_message_joining_a_triaged_referral_marks_it_without_reopening() -> None:
    change = decide(referral(status="triaged"), message(), screened(), {}, how="conversation")
    assert change.mark_new_message is True
    assert change.reopen is False


def test_a_message_joining_a_closed_referral_marks_and_reopens_it() -> None:
    change = decide(referral(status="closed"), message(), screened(), {}, how="headers")
    assert change.mark_new_message is True
    assert change.reopen is True
    assert REOPENED == "open"


@pytest.mark.parametrize(
    ("status", "decided_by", "now"),
    [
        ("triaged", None, "routine"),
        ("closed", None, "routine"),
        ("open", ADVOCATE, "routine"),
        ("closed", ADVOCATE, "emergency"),
    ],
)
def test_a_facts_only_revision_marks_and_reopens_nothing(
    status: str, decided_by: str | None, now: str
) -> None:
    change = decide(
        referral(status=status, decided_by=decided_by),
        message(facts={"recording_seconds": 42}),
        screened(now),
        {},
        how="revision",
        new_text=False,
    )
    assert change.mark_new_message is False
    assert change.reopen is False
    assert change.fields["recording_seconds"] == 42


# -- fields -------------------------------------------------------------------------------------


def test_known_fields_are_kept_and_gaps_filled_with_provenance() -> None:
    known = {
        "name": "Margaret Hughes",
        "confidence": {"name": 0.8},
        "provenance": {"name": {"source": "first"}},
    }
    extracted = {
        "name": "Maggie",
        "postcode": "LS1 4AB",
        "phone": "",
        "confidence": {"name": 0.6, "postcode": 0.9},
    }
    change = decide(
        referral(fields=known), message(), screened(), extracted, how="conversation"
    )
    fields = change.fields
    assert fields["name"] == "Margaret Hughes"  # a guess never replaces what is known
    assert fields["confidence"]["name"] == 0.8
    assert fields["provenance"]["name"] == {"source": "first"}
    assert fields["postcode"] == "LS1 4AB"  # the gap is filled
    assert fields["confidence"]["postcode"] == 0.9
    assert fields["provenance"]["postcode"] == {
        "source": "conversation",
        "channel": "sms",
        "message": "SM" + "5" * 32,
        "at": AT.isoformat(),
    }
    assert "phone" not in fields  # an empty value fills nothing


def test_an_answer_replaces_a_guess_with_the_given_provenance() -> None:
    guessed = {
        "referral_for": "self",
        "confidence": {"referral_for": 0.3},
        "provenance": {"referral_for": {"source": "extraction"}},
    }
    change = decide(
        referral(fields=guessed),
        message("it's for my mum"),
        screened(),
        {"referral_for": "self"},
        how="conversation",
        answer={"referral_for": "other", "relationship": "child"},
        answered={"source": "sms_answer", "question": "referral_for"},
    )
    fields = change.fields
    assert fields["referral_for"] == "other"
    assert fields["relationship"] == "child"
    assert fields["confidence"]["referral_for"] == 0.9
    assert fields["provenance"]["referral_for"] == {
        "source": "sms_answer",
        "question": "referral_for",
        "channel": "sms",
        "message": "SM" + "5" * 32,
        "at": AT.isoformat(),
    }


def test_an_answer_without_named_provenance_is_marked_as_an_answer() -> None:
    change = decide(
        referral(fields={"consent": False}),
        message("yes"),
        screened(),
        {},
        how="conversation",
        answer={"consent": True},
    )
    assert change.fields["consent"] is True
    assert change.fields["provenance"]["consent"]["source"] == "conversation:answer"


def test_channel_facts_replace_earlier_facts_and_guesses() -> None:
    earlier = {"recording_url": "https://example.org/old", "transcript_status": "pending"}
    change = decide(
        referral(fields=earlier),
        message(
            channel="voice",
            facts={"recording_url": "https://example.org/new", "transcript_status": "completed"},
        ),
        screened(),
        {"transcript_status": "guessed from text"},
        how="revision",
    )
    assert change.fields["recording_url"] == "https://example.org/new"
    assert change.fields["transcript_status"] == "completed"


def test_a_later_dont_contact_me_in_the_text_always_wins() -> None:
    change = decide(
        referral(fields={"safe_to_contact": True, "preferred_contact": "sms"}),
        message("please don't text me, he reads my phone"),
        screened(),
        {"safe_to_contact": False},
        how="conversation",
    )
    assert change.fields["safe_to_contact"] is False
    assert change.safe_to_contact is False


def test_a_later_dont_contact_me_found_by_screening_always_wins() -> None:
    change = decide(
        referral(fields={"safe_to_contact": True}),
        message(),
        screened(safe_to_contact=False),
        {},
        how="conversation",
    )
    assert change.safe_to_contact is False


def test_safe_to_contact_once_withdrawn_is_never_given_back_automatically() -> None:
    change = decide(
        referral(safe_to_contact=False, fields={"safe_to_contact": False}),
        message("TEXT"),
        screened(safe_to_contact=True),
        {"safe_to_contact": True},
        how="conversation",
        answer={"preferred_contact": "sms", "safe_to_contact": True},
    )
    assert change.safe_to_contact is False


# -- safeguarding categories ------------------------------------------------------------------


def test_categories_are_only_added() -> None:
    change = decide(
        referral(safeguarding=("financial", "neglect")),
        message(),
        screened(safeguarding=("domestic_abuse",)),
        {},
        how="conversation",
    )
    assert change.safeguarding == ["domestic_abuse", "financial", "neglect"]

    none_now = decide(
        referral(safeguarding=("financial",)), message(), screened(), {}, how="conversation"
    )
    assert none_now.safeguarding == ["financial"]


# -- a channel's urgency floor ----------------------------------------------------------------


def test_the_emergency_key_floor_shows_in_the_stored_screening() -> None:
    keyed = message(
        "Voicemail: transcript pending",
        channel="voice",
        urgency_floor="emergency",
        review_reason="the caller pressed the emergency key",
    )
    stored = screening_with_floor(screened("routine"), keyed)
    assert stored["urgency"] == "emergency"
    assert stored["urgency_floor"] == "emergency"
    assert stored["needs_review"] is True
    assert stored["review_reason"] == "the caller pressed the emergency key"


def test_a_floor_below_the_screening_leaves_it_as_it_is() -> None:
    stored = screening_with_floor(
        screened("emergency", needs_review="model: raised"), message(urgency_floor="urgent")
    )
    assert stored["urgency"] == "emergency"
    assert "urgency_floor" not in stored
    assert stored["needs_review"] == "model: raised"  # screening's own reason is kept
    assert "review_reason" not in stored


def test_without_a_floor_the_stored_screening_is_the_texts() -> None:
    result = screened("urgent", safeguarding=("neglect",))
    assert screening_with_floor(result, message()) == result.to_dict()


def test_a_floor_raises_a_joined_referral_and_shows_in_its_screening() -> None:
    keyed = message(channel="voice", urgency_floor="emergency", review_reason="emergency key")
    change = decide(referral("routine"), keyed, screened("routine"), {}, how="revision")
    assert change.raise_to == "emergency"
    assert change.alert == "escalated"
    assert change.screening["urgency"] == "emergency"
    assert change.screening["urgency_floor"] == "emergency"
    assert change.screening["review_reason"] == "emergency key"
