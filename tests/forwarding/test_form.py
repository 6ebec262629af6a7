"""The referral form: the same model for every advocacy type, its PDF read back with pypdf."""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pypdf
import pytest

from intake.config import Settings
from intake.forwarding import email, form, payload, pdf
from intake.forwarding.base import ForwardEvent
from intake.models import Referral
from tests.forwarding.standin import Answer, Request, StandIn

RECEIVED = datetime(2026, 11, 21, 14, 5, tzinfo=UTC)
MESSAGE = (
    "My brother Tomasz Nowak was sectioned under section 2 on Saturday at Ward 4, Riverside. "
    "He speaks Polish and wants help with the tribunal."
)
# Per advocacy type: the card, and what its form must show (label, value) once read back.
CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "imha": (
        {"mha_section": "2", "detained_on": "2026-11-21", "tribunal_deadline": "2026-12-04"},
        [
            "IMHA referral",
            "Mental Health Act 1983, section 130A",
            "Section 2",
            "Tribunal application deadline",
            "Fri 4 Dec 2026",
            "Date detained",
            "Sat 21 Nov 2026",
        ],
    ),
    "imca": (
        {
            "decision_type": "serious_medical_treatment",
            "decision_due": "2026-11-27",
            "lacks_capacity": True,
            "has_appropriate_person": False,
            "lpa": "property_finance",
        },
        [
            "IMCA referral",
            "Serious medical treatment",
            "Fri 27 Nov 2026",
            "Lacks capacity for this decision",
            "Property and financial affairs LPA",
        ],
    ),
    "care_act": (
        {"care_act_stage": "safeguarding_enquiry", "has_appropriate_person": False},
        [
            "Care Act advocacy referral",
            "Care Act 2014, sections 67 and 68",
            "Safeguarding enquiry (s42)",
            "Family or friend appropriate to consult",
        ],
    ),
    "nhs_complaints": (
        {"complaint_service": "nhs", "incident_date": "2026-02-03"},
        [
            "NHS complaints advocacy referral",
            "Complaint about",
            "NHS care",
            "Tue 3 Feb 2026",
            "NHS complaint time limit",
            "Wed 3 Feb 2027",
        ],
    ),
    "childrens": ({}, ["Children and young people's advocacy referral", "Children Act 1989"]),
    "general": ({}, ["Advocacy referral", "General (non-statutory) advocacy"]),
}
COMMON = [
    "Tomasz Nowak",
    "Thu 3 Feb 1938",
    "NHS number",
    "9434765919",
    "Polish interpreter",
    "Sister",
    "Ewa Nowak",
    "+447700900777",
    "URGENT",
    "Safeguarding concerns: psychological",
    "Person agrees to the referral",
    "sectioned under section 2",
]


def pdf_text(data: bytes) -> str:
    """Every page's text, whitespace squeezed (how a person reads the printed form)."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def event(kind: str, card: dict[str, Any], **fields: Any) -> ForwardEvent:
    referral = Referral(
        reference="REF-7K2Q9D",
        channel="sms",
        sender="+447700900777",
        received_at=RECEIVED,
        raw_text=MESSAGE,
        urgency="urgent",
        safeguarding=["psychological"],
        screening={"matches": [{"category": "psychological", "phrase": "sectioned"}]},
        fields={
            "referral_for": "other",
            "name": "Tomasz Nowak",
            "dob": "1938-02-03",
            "nhs_number": "9434765919",
            "relationship": "Sister",
            "referrer": {"name": "Ewa Nowak", "phone": "+447700900777"},
            "consent": True,
            "interpreter_language": "Polish",
            "advocacy_type": kind,
            "eligibility": card,
            "confidence": {"name": 0.8},
            "evidence": {"name": [3, 15]},
            **fields,
        },
    )
    message = {
        "channel": "sms",
        "provider_id": "SM1",
        "sender": referral.sender,
        "received_at": RECEIVED,
        "body": MESSAGE,
    }
    return ForwardEvent("created", "created", 1, RECEIVED, referral, [message])


@pytest.mark.parametrize("kind", list(CASES))
def test_the_pdf_of_every_advocacy_type_reads_back_with_its_fields(kind: str) -> None:
    card, expected = CASES[kind]
    settings = Settings(org_name="Northshire Advocacy")
    page = email.html(settings, form.for_event(settings, event(kind, card)))
    data = pdf.render(page, settings.templates_dir)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for wanted in [*expected, *COMMON, "REF-7K2Q9D", "Northshire Advocacy"]:
        assert wanted in text, f"{kind}: {wanted!r} missing from the PDF"


def test_the_form_model() -> None:
    settings = Settings(public_base_url="https://intake.example.org")
    model = form.for_event(settings, event("imha", CASES["imha"][0]))
    assert model["kind"] == "imha"
    assert model["deadlines"] == [
        {"label": "Tribunal application deadline", "date": "2026-12-04", "shown": "Fri 4 Dec 2026"}
    ]
    assert model["received"] == "Sat 21 Nov 2026 14:05"
    assert model["link"] == "https://intake.example.org/referrals/REF-7K2Q9D"
    titles = [s["title"] for s in model["sections"]]
    assert titles[:6] == [
        "Urgency and safeguarding",
        "The person",
        "Contact and safety",
        "Communication needs",
        "Who made the referral",
        "Consent",
    ]
    assert "Eligibility" in titles
    rows = dict(row for s in model["sections"] for row in s["rows"])
    assert rows["Why"] == "psychological: \u201csectioned\u201d"
    assert "evidence" not in model["details"] and "confidence" not in model["details"]


def test_an_unknown_type_gets_the_general_form_and_unlisted_card_keys_are_shown() -> None:
    settings = Settings()
    model = form.for_event(settings, event("dog_walking", {"lacks_capacity": False}))
    assert model["kind"] == "general"
    rows = dict(row for s in model["sections"] for row in s["rows"])
    assert rows["Lacks capacity for this decision"] == "No"


def test_not_safe_to_contact_comes_first() -> None:
    settings = Settings()
    unsafe = event("general", {})
    unsafe.referral.safe_to_contact = False
    model = form.for_event(settings, unsafe)
    assert model["warnings"][0].startswith("NOT SAFE TO CONTACT")
    assert "NOT SAFE TO CONTACT" in form.text(model).splitlines()[2]


def test_complaint_limit() -> None:
    assert form.complaint_limit("2026-02-03") == date(2027, 2, 3)
    assert form.complaint_limit("2028-02-29") == date(2029, 2, 28)
    assert form.complaint_limit("last spring") is None


def test_the_csv_defuses_formulas_and_keeps_every_card_key() -> None:
    hostile = event("imha", CASES["imha"][0], name='=HYPERLINK("http://x","click")')
    row = form.csv_row(payload.build(hostile))
    assert row["name"].startswith("'=")
    assert row["eligibility.mha_section"] == "2"
    assert row["eligibility.decision_type"] == ""
    assert row["messages"].startswith("[2026-11-21T14:05:00+00:00 sms +447700900777]")
    raw = form.csv_bytes(payload.build(hostile))
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") == 2


def test_a_providers_template_for_one_type_is_used(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(Settings().templates_dir, templates)
    (templates / "forms" / "imha.html").write_text(
        "<html><body><h1>Northshire IMHA form {{ form.reference }}</h1></body></html>"
    )
    settings = Settings(templates_dir=templates)
    assert "Northshire IMHA form REF-7K2Q9D" in email.html(
        settings, form.for_event(settings, event("imha", {}))
    )
    assert "<h1>IMCA referral" in email.html(settings, form.for_event(settings, event("imca", {})))


class Counter(StandIn):
    def answer(self, request: Request) -> Answer:
        return Answer(200, {})


def test_the_pdf_never_fetches_from_the_network(tmp_path: Path) -> None:
    server = Counter()
    try:
        templates = tmp_path / "templates"
        shutil.copytree(Settings().templates_dir, templates)
        (templates / "forms" / "general.html").write_text(
            f'<html><body><img src="{server.url}/logo.png"><p>{{{{ form.reference }}}}</p>'
            f'<link rel="stylesheet" href="{server.url}/x.css"></body></html>'
        )
        settings = Settings(templates_dir=templates)
        page = email.html(settings, form.for_event(settings, event("general", {})))
        text = pdf_text(pdf.render(page, templates))
    finally:
        server.close()
    assert "REF-7K2Q9D" in text
    assert server.requests == []
