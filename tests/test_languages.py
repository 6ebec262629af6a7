"""Every template in every language: rendered, checked for direction, reference and length."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from intake import languages
from intake.languages import Choice, choose, render, sms_segments

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
CATALOGUE = tomllib.loads((TEMPLATES / "lang" / "languages.toml").read_text("utf-8"))
TEMPLATED = sorted(CATALOGUE["languages"])
REQUIRED = ("en", "cy", "pl", "ur", "pa", "bn", "ar", "ro", "es", "pt", "uk", "so", "easy-read")
CONTEXT = {
    "reference": "REF-7K2Q9D",
    "org_name": "Northgate Advocacy",
    "crisis_line": "Samaritans free on 116 123",
    "subject": "",
    "out_of_hours": True,
    # for the parts added to an acknowledgement (ack/next_steps.txt, ack/email_questions.txt)
    "next_steps": ["Care Act advocacy is arranged by the council."],
    "questions": ["Which hospital and ward are they in?"],
}
# Parts added to an acknowledgement that carries the reference, not messages of their own.
PARTS = ("ack/ask_language.txt", "ack/next_steps.txt", "ack/email_questions.txt")
# Every English template a person receives that has translations.
NAMES = sorted(
    str(p.relative_to(TEMPLATES))
    for folder in ("ack", "questions", "voice")
    for p in (TEMPLATES / folder).glob("*.txt")
)
SMS = ("ack/sms.txt", "ack/voice_sms.txt")
SMS_EMERGENCY = ("ack/sms_emergency.txt", "ack/voice_sms_emergency.txt")


def test_the_required_languages_are_all_there() -> None:
    assert set(REQUIRED) <= set(TEMPLATED)


@pytest.mark.parametrize("code", TEMPLATED)
def test_every_translation_file_says_who_should_check_it(code: str) -> None:
    entry = CATALOGUE["languages"][code]
    assert entry["check"] and entry["interpreter_line"]
    if code == "en":
        return
    files = sorted((TEMPLATES / "lang" / code).rglob("*.txt"))
    assert files
    for path in files:
        first = path.read_text("utf-8").splitlines()[0]
        assert first.startswith("{#") and "check it before go-live" in first, path
        assert entry["check"] in first, path


@pytest.mark.parametrize("code", TEMPLATED)
@pytest.mark.parametrize("name", NAMES)
def test_every_template_renders_in_every_language(code: str, name: str) -> None:
    if name == languages.ASK_TEMPLATE and code not in ("en", "cy"):
        pytest.skip("only asked under the Welsh Language Standards")
    done = render(TEMPLATES, name, Choice(code), **CONTEXT)
    assert done.text.strip()
    assert "{{" not in done.text and "{%" not in done.text and "{#" not in done.text
    lang = CATALOGUE["languages"][code]
    # A translated template is used, not the English one.
    assert not done.fallback, f"{code} has no {name}"
    assert done.lang == lang["bcp47"] and done.dir == lang["dir"]
    if name.startswith("ack/") and name not in PARTS:
        assert "REF-7K2Q9D" in done.text
    if "emergency" in name:
        # The 999 advice comes first, in every language.
        assert "999" in done.text.split("\n")[0]
    if name.startswith("voice/greeting"):
        assert "999" in done.text
    if name in SMS:
        assert sms_segments(done.text).segments <= 3, (code, sms_segments(done.text))
    if name in SMS_EMERGENCY:
        assert sms_segments(done.text).segments <= 5, (code, sms_segments(done.text))


def test_right_to_left_languages_say_so() -> None:
    for code in ("ar", "ur"):
        done = render(TEMPLATES, "ack/email.txt", Choice(code), **CONTEXT)
        assert done.dir == "rtl"
        assert any("\u0600" <= ch <= "\u06ff" for ch in done.text)
    assert render(TEMPLATES, "ack/email.txt", Choice("pl"), **CONTEXT).dir == "ltr"


def test_a_template_a_language_lacks_falls_back_to_english_with_their_line(
    tmp_path: Path,
) -> None:
    # Any template name works: a question added later exists only in English.
    import shutil

    shutil.copytree(TEMPLATES, tmp_path / "t")
    (tmp_path / "t" / "questions" / "new_kind.txt").write_text("Which ward are they on?\n")
    done = render(tmp_path / "t", "questions/new_kind.txt", Choice("pl"), **CONTEXT)
    assert done.fallback
    assert done.text.startswith("Which ward are they on?")
    assert CATALOGUE["languages"]["pl"]["interpreter_line"] in done.text
    assert done.lang == "en-GB"


def test_a_language_without_templates_gets_english_and_its_line() -> None:
    choice = choose(TEMPLATES, preference=None, detected="fr", fields={})
    assert choice == Choice("en", line="fr", reason="detected")
    done = render(TEMPLATES, "ack/sms.txt", choice, **CONTEXT)
    assert "REF-7K2Q9D" in done.text and "Nous trouverons un interprète" in done.text
    # A language nobody listed: plain English.
    assert choose(TEMPLATES, preference=None, detected="xx", fields={}).code == "en"


def test_the_choice_order() -> None:
    base = {"preference": None, "detected": None, "fields": {}}
    assert choose(TEMPLATES, **base).code == "en"
    assert choose(TEMPLATES, **{**base, "detected": "pl"}).code == "pl"
    interp = {"interpreter_language": "Urdu"}
    assert choose(TEMPLATES, **{**base, "detected": "en", "fields": interp}).code == "ur"
    # someone writing in English for a person who needs Urdu reads English themselves
    for_mum = {**interp, "referral_for": "other"}
    assert choose(TEMPLATES, **{**base, "detected": "en", "fields": for_mum}).code == "en"
    assert choose(TEMPLATES, **{**base, "detected": None, "fields": for_mum}).code == "ur"
    assert choose(TEMPLATES, **{**base, "preference": "cy", "detected": "pl"}).code == "cy"
    easy = {"accessibility_needs": ["easy read"]}
    assert choose(TEMPLATES, **{**base, "fields": easy}).code == "easy-read"


def test_welsh_standards() -> None:
    on = {"fields": {}, "welsh_standards": True}
    assert choose(TEMPLATES, preference=None, detected="cy", **on) == Choice(
        "cy", ask=True, reason="detected"
    )
    both = choose(TEMPLATES, preference=None, detected="en", **on)
    assert both.languages() == ["cy", "en"] and both.ask
    done = render(TEMPLATES, "ack/sms.txt", both, **CONTEXT)
    welsh, english = done.text.split("\n\n")
    assert welsh.startswith("Diolch") and english.startswith("Thank you")
    # A recorded preference is honoured, and not asked again.
    assert choose(TEMPLATES, preference="en", detected="cy", **on) == Choice(
        "en", reason="preference"
    )
    # Polish is answered in Polish, Standards or not.
    assert choose(TEMPLATES, preference=None, detected="pl", **on).languages() == ["pl"]


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("€" * 80, "GSM-7", 160, 1),  # an extension character is two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("ł" * 70, "UCS-2", 70, 1),
        ("ł" * 71, "UCS-2", 71, 2),
        ("ł" * 134, "UCS-2", 134, 2),
        ("ł" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two UTF-16 code units
    ],
)
def test_sms_segments(text: str, encoding: str, units: int, segments: int) -> None:
    assert sms_segments(text) == languages.SmsLength(encoding, units, segments)


def test_the_start_up_check_names_a_missing_catalogue_or_missing_welsh(tmp_path: Path) -> None:
    import shutil

    from intake import settings_check
    from intake.config import Settings

    assert not [p for p in settings_check.problems(Settings()) if "lang" in p.lower()]
    empty = tmp_path / "empty"
    empty.mkdir()
    found = settings_check.problems(Settings(templates_dir=empty))
    assert any("lang/languages.toml cannot be read" in p for p in found)
    copy = tmp_path / "t"
    shutil.copytree(TEMPLATES, copy)
    shutil.rmtree(copy / "lang" / "cy")
    assert not [p for p in settings_check.problems(Settings(templates_dir=copy)) if "WELSH" in p]
    welsh = settings_check.problems(Settings(templates_dir=copy, welsh_language_standards=True))
    assert any(p.startswith("WELSH_LANGUAGE_STANDARDS is on but") for p in welsh)
