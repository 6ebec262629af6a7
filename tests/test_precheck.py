"""The eligibility pre-check (issue 17): rules as data, findings for the advocate, next steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake import precheck
from intake.config import Settings
from intake.settings_check import problems

RULES = precheck.load()


def ids(fields: dict[str, object]) -> list[str]:
    return [f.id for f in precheck.findings(fields, RULES)]


def test_the_packaged_rules() -> None:
    assert ids({"eligibility": {"mha_section": "136"}}) == ["imha_short_term_hold"]
    assert ids({"eligibility": {"mha_section": "2"}}) == []
    assert ids({"eligibility": {"complaint_service": "other"}}) == ["complaint_not_nhs"]
    family = {"advocacy_type": "care_act", "referral_for": "other", "relationship": "child"}
    assert ids(family) == ["care_act_family_referral"]
    assert ids({**family, "relationship": "social worker"}) == []
    assert ids({**family, "referral_for": "self"}) == []
    capable = {"eligibility": {"decision_type": "accommodation", "lacks_capacity": False}}
    assert ids(capable) == ["imca_has_capacity"]
    befriended = {"eligibility": {"decision_type": "care_review", "has_appropriate_person": True}}
    assert ids(befriended) == ["imca_appropriate_person"]
    # safeguarding: an IMCA may be instructed even with family involved
    assert (
        ids({"eligibility": {"decision_type": "safeguarding", "has_appropriate_person": True}})
        == []
    )


def test_why_names_the_value() -> None:
    [found] = precheck.findings({"eligibility": {"mha_section": "5(2)"}}, RULES)
    assert "section 5(2)" in found.why and "s130C" in found.source
    assert found.to_dict()["next"].startswith("Short-term holds")


def test_a_service_can_switch_a_rule_off_or_write_its_own(tmp_path: Path) -> None:
    own = tmp_path / "rules.toml"
    own.write_text(
        """
[[rule]]
id = "care_act_family_referral"
enabled = false
when = [{ field = "advocacy_type", in = ["care_act"] }]
why = "x"
next = "y"

[[rule]]
id = "out_of_area"
when = [{ field = "postcode", present = true }, { field = "setting", is = "hospital" }]
why = "In hospital at {postcode}"
next = "We will check which service covers that area."
""",
        encoding="utf-8",
    )
    rules = precheck.load(own)
    assert [r.id for r in rules] == ["out_of_area"]
    [found] = precheck.findings({"postcode": "LS6 2AB", "setting": "hospital"}, rules)
    assert found.why == "In hospital at LS6 2AB"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "not TOML"),
        ('[[rule]]\nid = "a"\nwhy = "x"\nnext = "y"\n', "`when` is missing"),
        ('[[rule]]\nid = "a"\nwhy = "x"\nnext = "y"\nwhen = [{ field = "a" }]\n', "one of in/is"),
    ],
)
def test_a_bad_rules_file_stops_the_start_with_a_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    found = problems(Settings().with_(eligibility_rules=path))
    assert any(p.startswith("ELIGIBILITY_RULES:") and message in p for p in found), found
    missing = problems(Settings().with_(eligibility_rules=tmp_path / "nope.toml"))
    assert any("cannot be read" in p for p in missing)
