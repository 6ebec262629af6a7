"""The eligibility card: statutes' facts read from referrals, dates resolved on the day received.

The labelled set (tests/data/eligibility_dev.jsonl) was written from providers' referral forms and
guidance, the MCA Code of Practice, Care Act guidance and tribunal guidance (each line names its
source); its "holdout" third was not used while the vocabulary was tuned.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from intake.extraction import extract
from intake.extraction.cli import run_eval_eligibility, run_extract
from intake.extraction.dates import find
from intake.extraction.eligibility import KEYS, card, received_day
from intake.extraction.evaluate import score

DEV = Path(__file__).resolve().parents[1] / "data" / "eligibility_dev.jsonl"
VALUES: dict[str, set[Any]] = {
    "mha_section": {
        "2",
        "3",
        "4",
        "5(2)",
        "5(4)",
        "135",
        "136",
        "35",
        "36",
        "37",
        "37/41",
        "47/49",
        "48/49",
        "CTO",
        "guardianship",
        "informal",
    },
    "decision_type": {"serious_medical_treatment", "accommodation", "care_review", "safeguarding"},
    "lacks_capacity": {True, False},
    "has_appropriate_person": {True, False},
    "lpa": {"health_welfare", "property_finance", "deputy"},
    "care_act_stage": {
        "needs_assessment",
        "carers_assessment",
        "care_plan",
        "review",
        "safeguarding_enquiry",
    },
    "complaint_service": {"nhs", "social_care", "other"},
}
DATES = ("detained_on", "tribunal_deadline", "decision_due", "incident_date")
MONDAY = date(2026, 11, 23)


def _records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DEV.read_text("utf-8").splitlines() if line.strip()]


def _card(text: str, today: date = MONDAY) -> dict[str, Any]:
    return card(text, today).values


def test_labelled_set_is_well_formed() -> None:
    records = _records()
    assert len(records) >= 150
    assert len({r["id"] for r in records}) == len(records)
    for r in records:
        assert set(r) >= {"id", "text", "channel", "received_at", "eligibility", "source"}
        assert r["channel"] in ("sms", "email", "voice")
        assert datetime.fromisoformat(r["received_at"]).utcoffset() is not None
        assert r["source"].startswith("http")
        for key, value in r["eligibility"].items():
            assert key in KEYS
            if key in DATES:
                assert date.fromisoformat(value).isoformat() == value
            else:
                assert value in VALUES[key], (r["id"], key, value)
        if "tribunal_deadline" in r["eligibility"]:
            detained = date.fromisoformat(r["eligibility"]["detained_on"])
            assert (date.fromisoformat(r["eligibility"]["tribunal_deadline"]) - detained).days == 13


def test_goals_on_the_third_not_tuned_on() -> None:
    held = [r for r in _records() if r.get("split") == "holdout"]
    assert len(held) >= 50
    pairs = [
        (
            extract(r["text"], r["channel"], received_at=r["received_at"]).fields.get(
                "eligibility", {}
            ),
            r["eligibility"],
        )
        for r in held
    ]
    report = score(pairs, KEYS)
    for key in ("mha_section", "decision_type", "care_act_stage"):
        assert report[key]["f1"] >= 0.85, (key, report[key])
    for key in DATES:
        assert report[key]["f1"] >= 0.80, (key, report[key])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See section 4 of the form. He is on a section 2 since the 20th.", "2"),
        ("She was on a section 3 in 2019 but is informal now.", "informal"),
        ("They are assessing him for a section 2 this afternoon.", None),
        ("Section 3 of my tenancy agreement says no pets.", None),
        ("Detained on S37/41 at Rampton", "37/41"),
        ("on a section 37 with 41 restrictions", "37/41"),
        ("transferred under 47/49 from prison", "47/49"),
        ("the police took him to a place of safety on a 136", "136"),
        ("put on a section 5(2) this morning, she'd been informal for weeks", "5(2)"),
        ("the doctor's holding power was used", "5(2)"),
        ("Subject to a community treatment order", "CTO"),
        ("s17A CTO, recalled last week", "CTO"),
        ("Under guardianship (s7) with the council", "guardianship"),
        ("A special guardianship order is in place", None),
        ("His section 2 was changed to a section 3 today", "3"),
        ("Her section 2 was rescinded and she stayed on the ward voluntarily", "informal"),
        ("Section 42 enquiry has been opened", None),
        ("Please contact her informal carer, her sister", None),
        ("she needs section 117 aftercare", None),
        ("Jamie's 2 kids are staying with me", None),
        ("my mum's 3 dogs need walking", None),
        ("he is on a 28 day section", "2"),
        ("sectioned twice before, once under a 2, but not in hospital now", None),
        ("Legal status: informal (previously detained under s2)", "informal"),
        ("a conditionally discharged restricted patient (s37/41)", "37/41"),
        ("transferred under sections 47 and 49", "47/49"),
        ("on a 2 week course of antibiotics", None),
    ],
)
def test_mha_section(text: str, expected: str | None) -> None:
    assert _card(text).get("mha_section") == expected


def test_section_2_tribunal_deadline_is_day_14_counting_the_day_of_admission() -> None:
    got = _card("Mum was sectioned on Saturday under section 2")
    assert got["detained_on"] == "2026-11-21"
    assert got["tribunal_deadline"] == "2026-12-04"
    assert "tribunal_deadline" not in _card("Section 3, detained on Saturday")


def test_dates_around_detention() -> None:
    assert (
        _card("Detained under section 3; DOB 02/04/1981; sectioned 19/11/2026")["detained_on"]
        == "2026-11-19"
    )
    # a renewal or a tribunal date is not the day of detention
    got = _card("On a section 3 and her detention was renewed on 10 Nov 2026")
    assert "detained_on" not in got
    got = _card("On a s2, detained on the 8th June 2026 - his tribunal window closes on 21 June")
    assert got["detained_on"] == "2026-06-08"
    # not detained: no detention date
    assert "detained_on" not in _card("On a CTO since 2 November 2026")


def test_received_day_is_the_day_in_england() -> None:
    # 00:30 BST on 12 September is 23:30 UTC on the 11th
    assert received_day("2026-09-12T00:30:00+01:00") == date(2026, 9, 12)
    assert received_day(datetime(2026, 9, 11, 23, 30, tzinfo=UTC)) == date(2026, 9, 12)
    got = extract("sectioned today s2", "sms", received_at="2026-09-11T23:30:00+00:00")
    assert got.fields["eligibility"]["detained_on"] == "2026-09-12"
    with pytest.raises(ValueError):
        received_day("last Tuesday")


@pytest.mark.parametrize(
    ("text", "today", "direction", "expected"),
    [
        ("last Saturday", date(2026, 11, 28), "past", date(2026, 11, 21)),  # a Saturday
        ("on Saturday", date(2026, 11, 23), "past", date(2026, 11, 21)),
        ("on Friday", date(2026, 11, 23), "future", date(2026, 11, 27)),
        ("next Tuesday", date(2026, 11, 23), "future", date(2026, 11, 24)),
        ("this Monday", date(2026, 11, 23), "future", date(2026, 11, 23)),
        ("two days ago", date(2026, 11, 23), "past", date(2026, 11, 21)),
        ("in 3 days", date(2026, 11, 23), "future", date(2026, 11, 26)),
        ("since 2pm", date(2026, 11, 23), "past", date(2026, 11, 23)),
        ("28 Dec", date(2027, 1, 3), "past", date(2026, 12, 28)),
        ("3rd Jan", date(2026, 12, 20), "future", date(2027, 1, 3)),
        ("21/11/26", date(2026, 11, 23), "past", date(2026, 11, 21)),
        ("Nov 17th", date(2026, 11, 23), "past", date(2026, 11, 17)),
        ("the twelfth of November", date(2026, 11, 23), "past", date(2026, 11, 12)),
        ("Weds 25th", date(2026, 11, 28), "past", date(2026, 11, 25)),
        ("2026-11-02", date(2026, 11, 23), "future", date(2026, 11, 2)),
        ("30 Sept 2026", date(2026, 11, 23), "past", date(2026, 9, 30)),
        ("21-Nov-2026", date(2026, 11, 23), "past", date(2026, 11, 21)),
        ("21-Nov-26", date(2026, 11, 23), "past", date(2026, 11, 21)),
        ("2026/11/20", date(2026, 11, 23), "past", date(2026, 11, 20)),
        ("on the twenty sixth", date(2026, 10, 29), "past", date(2026, 10, 26)),
    ],
)
def test_dates(text: str, today: date, direction: str, expected: date) -> None:
    hits = find(text)
    assert len(hits) == 1
    assert hits[0].resolve(today, direction) == expected  # type: ignore[arg-type]


def test_not_dates() -> None:
    assert find("24/7 care and support") == []
    assert find("she has been poorly last week") == []
    assert find("I'll sat down with them") == []


def test_capacity_person_and_lpa() -> None:
    got = _card("She does not have capacity to decide. Her only son is estranged.")
    assert got["lacks_capacity"] is True and got["has_appropriate_person"] is False
    assert _card("He has capacity to decide where he lives")["lacks_capacity"] is False
    assert "lacks_capacity" not in _card("We are not sure whether she has capacity")
    got = _card("His daughter is involved and supportive; she holds an LPA for health and welfare")
    assert got["has_appropriate_person"] is True and got["lpa"] == "health_welfare"
    assert _card("property and financial affairs LPA with his solicitor")["lpa"] == (
        "property_finance"
    )
    assert _card("She has a court-appointed deputy")["lpa"] == "deputy"
    assert "lpa" not in _card("I am the deputy manager of the home")
    assert "has_appropriate_person" not in _card("no family except me")


def test_imca_decision_and_its_date() -> None:
    got = _card(
        "IMCA please: he lacks capacity to consent to a below-knee amputation. Best interests "
        "meeting on Friday. A capacity assessment was done on 20/11."
    )
    assert got["decision_type"] == "serious_medical_treatment"
    assert got["decision_due"] == "2026-11-27"
    # without a capacity question, a care review is a Care Act stage, not an IMCA decision
    assert _card("They did a care review without me")["care_act_stage"] == "review"
    assert "care_act_stage" not in _card("IMCA needed for a care review, no family")


def test_care_act_stage_is_not_read_from_a_child_s_age_or_a_looked_after_review() -> None:
    assert "care_act_stage" not in _card("He's 9 and has autism, school have excluded him")
    assert "care_act_stage" not in _card("I'm 17 and in foster care, help me at my review meeting")
    assert _card("Care Act advocacy for his s.27 review")["care_act_stage"] == "review"


def test_care_act_stage_now_over_past() -> None:
    got = _card("Her needs assessment took place on 20/11; now her care plan is being drafted.")
    assert got["care_act_stage"] == "care_plan"


def test_complaints() -> None:
    got = _card("I want to complain about my GP who refused to refer me on 2/11/26")
    assert got == {"complaint_service": "nhs", "incident_date": "2026-11-02"}
    assert _card("complaint about a private clinic, not NHS funded")["complaint_service"] == "other"
    assert _card("complaint about the care home")["complaint_service"] == "social_care"


def test_evidence_spans_index_the_message_as_received() -> None:
    text = "Hello\r\nMy\u00a0mum is detained under Section\u00a02 since 19/11/2026."
    result = extract(text, "email", received_at="2026-11-23T09:00:00+00:00")
    out = result.to_dict()
    start, end = out["evidence"]["eligibility.mha_section"]
    assert text[start:end] == "Section\u00a02"
    start, end = out["evidence"]["eligibility.detained_on"]
    assert text[start:end] == "19/11/2026"
    assert 0 < out["confidence"]["eligibility.mha_section"] <= 1
    assert out["eligibility"]["tribunal_deadline"] == "2026-12-02"


def test_no_card_when_nothing_is_said() -> None:
    result = extract("I need help with my benefits", "sms")
    assert "eligibility" not in result.fields and "evidence" not in result.to_dict()


def test_extract_jsonl_takes_received_at() -> None:
    lines = [
        {"text": "sectioned yesterday, section 2", "received_at": "2026-11-23T09:00:00+00:00"},
        {"text": "sectioned yesterday, section 2", "received_at": "not a date"},
        {"text": "sectioned yesterday, section 2", "received_at": 5},
    ]
    out = io.StringIO()
    stdin = io.StringIO("\n".join(json.dumps(x) for x in lines) + "\n")
    assert run_extract(stdin, out, True, "sms") == 1
    results = [json.loads(x) for x in out.getvalue().splitlines()]
    assert results[0]["eligibility"]["detained_on"] == "2026-11-22"
    assert "error" in results[1] and "error" in results[2]


def test_eval_command(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_eval_eligibility(str(DEV), out) == 0
    table = out.getvalue()
    assert "mha_section" in table and "split holdout" in table and "support" in table
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi"}\n', encoding="utf-8")
    assert run_eval_eligibility(str(bad), io.StringIO()) == 2
    assert run_eval_eligibility(str(tmp_path / "missing.jsonl"), io.StringIO()) == 2
    # a key predicted where none is labelled counts against precision
    one = tmp_path / "one.jsonl"
    one.write_text(
        json.dumps(
            {
                "id": "x",
                "text": "on a section 3",
                "channel": "sms",
                "received_at": "2026-11-23T09:00:00+00:00",
                "eligibility": {},
                "source": "test",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert run_eval_eligibility(str(one), out) == 0
    row = next(line for line in out.getvalue().splitlines() if line.startswith("mha_section"))
    assert row.split()[1:] == ["0", "0.00", "1.00", "0.00"]


def test_each_pattern_has_at_most_one_unless_group() -> None:
    # RE2 would give two groups of one name one index: the second would silently not count
    from intake.extraction.vocab import load

    def strings(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return []

    for text in strings(load("eligibility")) + strings(load("dates")):
        assert text.count("(?P<unless>") <= 1, text[:80]
