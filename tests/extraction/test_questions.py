from pathlib import Path

from intake.extraction.questions import (
    ESSENTIALS,
    TEMPLATES,
    interpret_answer,
    missing_essentials,
    next_question,
)


def test_templates_exist_and_fit_an_sms() -> None:
    for key in ESSENTIALS:
        text = (TEMPLATES / f"{key}.txt").read_text(encoding="utf-8").strip()
        assert 0 < len(text) <= 160


def test_missing_in_priority_order() -> None:
    assert missing_essentials({}) == ["need", "referral_for", "consent", "contact"]
    assert missing_essentials({"advocacy_type": "imha", "referral_for": "self"}) == ["contact"]
    full = {
        "advocacy_type": "imha",
        "referral_for": "other",
        "consent": False,
        "preferred_contact": "sms",
    }
    assert missing_essentials(full) == []


def test_next_question_asks_each_once_up_to_the_limit() -> None:
    fields = {"referral_for": "other"}
    key, text = next_question(fields, [], 3) or ("", "")
    assert key == "need" and text == (TEMPLATES / "need.txt").read_text(encoding="utf-8").strip()
    assert next_question(fields, ["need"], 3)[0] == "consent"  # type: ignore[index]
    assert next_question(fields, ["need", "consent"], 2) is None
    assert next_question(fields, ["need", "consent", "contact"], 9) is None


def test_never_asks_when_unsafe_or_complete() -> None:
    assert next_question({"safe_to_contact": False}, [], 5) is None
    done = {"setting": "hospital", "referral_for": "self", "safe_to_contact": True}
    assert next_question(done, [], 5) is None


def test_templates_dir_override(tmp_path: Path) -> None:
    (tmp_path / "need.txt").write_text("What do you need?\n", encoding="utf-8")
    assert next_question({}, [], 1, templates_dir=tmp_path) == ("need", "What do you need?")


def test_consent_answers() -> None:
    assert interpret_answer("consent", "yes") == {"consent": True}
    assert interpret_answer("consent", "yeah ok") == {"consent": True}
    assert interpret_answer("consent", "No, she doesn't know yet") == {"consent": False}
    assert interpret_answer("consent", "what do you mean?") == {}


def test_referral_for_answers() -> None:
    assert interpret_answer("referral_for", "it's for me") == {"referral_for": "self"}
    assert interpret_answer("referral_for", "it's for my mum") == {
        "referral_for": "other",
        "relationship": "child",
    }
    assert (
        interpret_answer("referral_for", "my mum, I'm her daughter")["relationship"] == "daughter"
    )


def test_need_and_contact_answers() -> None:
    need = interpret_answer("need", "she's been sectioned")
    assert need["advocacy_type"] == "imha" and need["need"] == "she's been sectioned"
    assert interpret_answer("contact", "text please") == {
        "preferred_contact": "sms",
        "safe_to_contact": True,
    }
    assert interpret_answer("contact", "NO CONTACT") == {"safe_to_contact": False}
    assert interpret_answer("contact", "email j.b@example.com")["email"] == "j.b@example.com"


# -- what the advocacy type still needs (issue 17) ------------------------------------------


def test_type_question_templates_exist_and_fit_an_sms() -> None:
    from intake.extraction.vocab import load

    data = load("type_questions")
    keys = {k for questions in data["types"].values() for k in questions}
    assert keys == set(data["questions"])
    for key in keys:
        text = (TEMPLATES / f"{key}.txt").read_text(encoding="utf-8").strip()
        assert 0 < len(text) <= 160, key


def test_after_the_essentials_the_type_asks_for_what_the_law_needs() -> None:
    from intake.extraction.questions import missing_for_type

    imha = {"advocacy_type": "imha", "referral_for": "self", "safe_to_contact": True}
    assert missing_essentials(imha) == []
    assert missing_for_type(imha) == ["imha_section", "imha_hospital"]
    key, text = next_question(imha, [], 3) or ("", "")
    assert key == "imha_section" and "section" in text
    assert next_question(imha, ["imha_section"], 3)[0] == "imha_hospital"  # type: ignore[index]
    # a section already on the card is not asked for again
    known = {**imha, "eligibility": {"mha_section": "3"}}
    assert missing_for_type(known) == ["imha_hospital"]
    imca = {"advocacy_type": "imca", "eligibility": {"decision_type": "accommodation"}}
    assert missing_for_type(imca) == ["imca_capacity"]
    assert missing_for_type({"advocacy_type": "general"}) == []
    assert missing_for_type({}) == []
    # within the same limits and safety rules
    assert next_question(imha, ["imha_section"], 1) is None
    assert next_question({**imha, "safe_to_contact": False}, [], 3) is None


def test_answers_to_type_questions() -> None:
    got = interpret_answer("imha_section", "section 2 since yesterday")
    assert got["eligibility"]["mha_section"] == "2" and "tribunal_deadline" in got["eligibility"]
    assert interpret_answer("imha_hospital", "  Becklin Centre,\n Ward 3 ") == {
        "hospital": "Becklin Centre, Ward 3"
    }
    # the question said what kind of decision it is about: the reply need not
    got = interpret_answer("imca_decision", "a move to a nursing home, meeting on 3/12/2030")
    assert got == {"eligibility": {"decision_type": "accommodation", "decision_due": "2030-12-03"}}
    got = interpret_answer("complaint_when", "it was at the hospital on 2 March 2026")
    assert got["eligibility"]["incident_date"] == "2026-03-02"
    assert interpret_answer("care_act_stage", "no idea") == {}
    assert len(interpret_answer("imca_capacity", "x" * 1000)["capacity_assessed"]) == 300


def test_an_answer_fills_part_of_the_card_and_keeps_the_rest() -> None:
    from intake.merge import apply_answer

    existing = {
        "eligibility": {"mha_section": "2", "detained_on": "2026-11-21"},
        "confidence": {"eligibility.mha_section": 0.9},
        "evidence": {"eligibility.mha_section": [5, 14]},
    }
    out = apply_answer(existing, {"eligibility": {"mha_section": "3"}}, {"source": "sms"})
    assert out["eligibility"] == {"mha_section": "3", "detained_on": "2026-11-21"}
    assert out["confidence"]["eligibility.mha_section"] == 0.9 and out["evidence"] == {}
