"""classify() over the fixture corpus, plus one test per RFC 3834 rule."""

from __future__ import annotations

import pytest

from channels.email.autoreply import KINDS, Classification, classify
from channels.email.parse import parse_email

from .conftest import fixture_bytes, load_expected

EXPECTED = load_expected()
NAMES = sorted(EXPECTED)


@pytest.mark.parametrize("name", NAMES)
def test_corpus_classification(name: str) -> None:
    exp = EXPECTED[name]
    result = classify(parse_email(fixture_bytes(name)), exp["envelope_from"])
    assert isinstance(result, Classification)
    assert (result.kind, result.may_acknowledge, result.creates_referral) == (
        exp["kind"],
        exp["may_acknowledge"],
        exp["creates_referral"],
    ), result.reason
    assert result.kind in KINDS
    assert result.reason.startswith(result.kind)


def test_corpus_covers_every_kind() -> None:
    assert {EXPECTED[name]["kind"] for name in NAMES} == set(KINDS)


def _mail(
    headers: str, body: str = "Please can someone help my dad, he is in hospital.\n"
) -> bytes:
    base = (
        "To: referrals@advocacy.example.org\r\nSubject: Referral\r\n"
        "Date: Tue, 3 Jun 2025 09:00:00 +0100\r\nMessage-ID: <t@example.com>\r\n"
    )
    return (base + headers.replace("\n", "\r\n") + "\r\n" + body).encode()


PERSON_FROM = "From: Ann Lee <ann.lee@example.com>\n"


@pytest.mark.parametrize(
    ("headers", "envelope", "kind", "may_ack", "signal"),
    [
        (PERSON_FROM, "ann.lee@example.com", "person", True, "no automatic"),
        (PERSON_FROM + "Auto-Submitted: no\n", "ann.lee@example.com", "person", True, ""),
        (PERSON_FROM + "Auto-Submitted: auto-replied\n", None, "auto_reply", False, "auto-replied"),
        (PERSON_FROM + "Auto-Submitted: auto-generated\n", None, "bulk", False, "auto-generated"),
        (PERSON_FROM + "Auto-Submitted: auto-notified\n", None, "bulk", False, "auto-notified"),
        (PERSON_FROM + "Precedence: bulk\n", None, "bulk", False, "Precedence: bulk"),
        (PERSON_FROM + "Precedence: junk\n", None, "bulk", False, "Precedence: junk"),
        (PERSON_FROM + "Precedence: list\n", None, "bulk", False, "Precedence: list"),
        (PERSON_FROM + "List-Id: <x.lists.example.org>\n", None, "bulk", False, "List-Id"),
        (PERSON_FROM + "List-Unsubscribe: <mailto:u@x>\n", None, "bulk", False, "List-Unsubscribe"),
        (PERSON_FROM + "X-Autoreply: yes\n", None, "auto_reply", False, "X-Autoreply"),
        (PERSON_FROM + "X-Autoreply: no\n", None, "person", True, ""),
        (PERSON_FROM + "X-Autorespond: on\n", None, "auto_reply", False, "X-Autorespond"),
        (PERSON_FROM + "Precedence: auto_reply\n", None, "auto_reply", False, "auto_reply"),
        (PERSON_FROM, "", "bounce", False, "null return path"),
        (PERSON_FROM, "<>", "bounce", False, "null return path"),
        (PERSON_FROM + "Return-Path: <>\n", None, "bounce", False, "null return path"),
        ("From: MAILER-DAEMON@mx.example.org\n", None, "bounce", False, "mailer-daemon"),
        ("From: Postmaster <postmaster@example.org>\n", None, "bounce", False, "postmaster"),
        (PERSON_FROM, "mailer-daemon@mx.example.org", "bounce", False, "mailer-daemon"),
        (PERSON_FROM + "X-Failed-Recipients: a@b.c\n", None, "bounce", False, "X-Failed"),
        ("From: owner-carers@lists.example.org\n", None, "bulk", False, "owner-carers"),
        ("From: carers-request@lists.example.org\n", None, "bulk", False, "carers-request"),
        ("From: Trust <noreply@example.nhs.uk>\n", None, "bulk", False, "noreply"),
        ("From: Trust <do-not-reply@example.nhs.uk>\n", None, "bulk", False, "do-not-reply"),
        (PERSON_FROM, "owner-list@lists.example.org", "bulk", False, "owner-list"),
        ("", "someone@example.com", "person", False, "no address"),
    ],
)
def test_rules(headers: str, envelope: str | None, kind: str, may_ack: bool, signal: str) -> None:
    result = classify(parse_email(_mail(headers)), envelope)
    assert (result.kind, result.may_acknowledge) == (kind, may_ack), result.reason
    assert signal.lower() in result.reason.lower()
    assert result.creates_referral is (kind in ("person", "bulk"))


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Referral",
        "Out of the office - back 16 June",
        "[Out of Office] Re: Referral",
        "Automatic reply: Referral for Mr Fraser",
        "Auto: Referral",
        "AutoReply: Referral",
        "Auto-Response: Re: your message",
        "Abwesenheitsnotiz: Referral",
        "Réponse automatique : Referral",
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    raw = _mail(PERSON_FROM).replace(b"Subject: Referral", f"Subject: {subject}".encode())
    result = classify(parse_email(raw), "ann.lee@example.com")
    assert result.kind == "auto_reply", result.reason


@pytest.mark.parametrize(
    "subject",
    [
        "Referral - about his auto insurance",
        "Re: Out of area placement",
        "Automatically enrolled patient",
        "Fwd: Out of Office",
        "Office move",
    ],
)
def test_ordinary_subjects_are_not_auto_replies(subject: str) -> None:
    raw = _mail(PERSON_FROM).replace(b"Subject: Referral", f"Subject: {subject}".encode())
    assert classify(parse_email(raw), "ann.lee@example.com").kind == "person"


def test_bounce_beats_auto_reply() -> None:
    raw = _mail("From: MAILER-DAEMON@mx.example.org\nAuto-Submitted: auto-replied\n")
    assert classify(parse_email(raw), "").kind == "bounce"


def test_null_path_auto_reply_is_still_an_auto_reply() -> None:
    raw = _mail(PERSON_FROM + "Auto-Submitted: auto-replied\n")
    result = classify(parse_email(raw), "")
    assert result.kind == "auto_reply"
    assert "null return path" in result.reason


def test_reply_to_is_enough_to_acknowledge() -> None:
    raw = _mail("Reply-To: ann.lee@example.com\n")
    result = classify(parse_email(raw), "ann.lee@example.com")
    assert (result.kind, result.may_acknowledge) == ("person", True)
