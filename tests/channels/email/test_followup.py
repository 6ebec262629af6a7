"""The email follow-up (issue 17): an email referral's acknowledgement asks, together, for what
its advocacy type still needs - never beside the 999 advice, never when it is unsafe."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path

from channels.email import ack, trust
from intake.config import Settings
from intake.models import InboundMessage, Referral

ROOT = Path(__file__).resolve().parents[3]
SENDER = "ward5@nhs.example"


def settings() -> Settings:
    return Settings().with_(
        smtp_relay_url="smtp://127.0.0.1:2525",
        email_addresses=("referrals@advocacy.example",),
        email_from="Northgate Advocacy <referrals@advocacy.example>",
        org_name="Northgate Advocacy",
        templates_dir=ROOT / "templates",
    )


def referral(fields: dict[str, object], urgency: str = "urgent") -> Referral:
    return Referral(
        reference="REF-7K2Q9D",
        channel="email",
        sender=SENDER,
        received_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        raw_text="...",
        urgency=urgency,
        fields=fields,
    )


def inbound() -> InboundMessage:
    return InboundMessage(
        "email",
        "<m1@nhs.example>",
        SENDER,
        "referrals@advocacy.example",
        "...",
        datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        meta={trust.VERIFIED: True, "subject": "Referral"},
    )


def body(plan: ack.Plan | ack.Skip) -> str:
    """The plain-text part; the HTML part (written per language) must say the same."""
    assert isinstance(plan, ack.Plan)
    parsed = message_from_string(plan.body, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    plain = parsed.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    html = parsed.get_body(preferencelist=("html",))
    if html is not None and "To help us prioritise" in text:
        assert "To help us prioritise" in html.get_content()
    return text


def test_an_imha_referral_is_asked_for_the_section_and_the_hospital() -> None:
    text = body(ack.plan(settings(), referral({"advocacy_type": "imha"}), inbound()))
    assert "To help us prioritise" in text
    assert "Which section of the Mental Health Act" in text and "Which hospital" in text
    assert text.index("Your reference is REF-7K2Q9D") < text.index("To help us prioritise")


def test_only_what_is_missing_and_nothing_when_complete() -> None:
    known = {"advocacy_type": "imha", "eligibility": {"mha_section": "2"}}
    text = body(ack.plan(settings(), referral(known), inbound()))
    assert "Which section" not in text and "Which hospital" in text
    done = {**known, "hospital": "Becklin Centre"}
    assert "To help us prioritise" not in body(ack.plan(settings(), referral(done), inbound()))
    general = {"advocacy_type": "general"}
    assert "To help us prioritise" not in body(ack.plan(settings(), referral(general), inbound()))


def test_never_beside_the_999_advice_and_within_the_question_limit() -> None:
    imca = {"advocacy_type": "imca"}
    text = body(ack.plan(settings(), referral(imca, "emergency"), inbound()))
    assert "To help us prioritise" not in text
    one = settings().with_(conversation_max_questions=1)
    text = body(ack.plan(one, referral(imca), inbound()))
    assert "What decision is being made" in text and "Who assessed" not in text
    unsafe = referral({**imca, "safe_to_contact": False})
    assert "To help us prioritise" not in body(ack.plan(settings(), unsafe, inbound()))


def test_a_referral_outside_the_criteria_is_told_what_happens_next() -> None:
    # a section 136 hold does not qualify for an IMHA (intake/data/eligibility_rules.toml)
    held = {"advocacy_type": "imha", "eligibility": {"mha_section": "136"}}
    text = body(ack.plan(settings(), referral(held), inbound()))
    assert "Short-term holds under the Mental Health Act do not qualify" in text
    assert "To help us prioritise" not in text  # not asked for more about its eligibility
    assert "Short-term holds" not in body(
        ack.plan(settings(), referral(held, "emergency"), inbound())
    )
