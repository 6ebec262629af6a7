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
