"""The TwiML a caller hears, parsed as XML; opening hours, bank holidays, caller-ID rules."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from channels.voice.calls import is_uk_mobile, is_withheld
from channels.voice.twiml import Urls, after_dial, greeting, menu_answer, thank_you
from channels.voice.webhooks import out_of_hours
from intake.config import Settings, load_settings
from intake.hours import BadOpeningHours, is_open, load_bank_holidays, parse_opening_hours
from intake.runtime import Runtime
from intake.transcription.command import build_command, recording_media_url
from tests.channels.voice.calls import Call, post, queued

BASE = "https://intake.example.org"
URLS = Urls(BASE)
ON_CALL = "+447700900999"


def parse(xml: str) -> ET.Element:
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def test_greeting_in_hours_says_999_then_records_with_callbacks() -> None:
    settings = Settings()
    root = parse(greeting(settings, URLS, out_of_hours=False))
    assert verbs(root) == ["Say", "Say", "Record", "Say", "Hangup"]
    first = root.find("Say")
    assert first is not None and first.text is not None
    assert "999" in first.text and "closed" not in first.text
    assert first.get("voice") == "Polly.Amy" and first.get("language") == "en-GB"
    record = root.find("Record")
    assert record is not None
    assert record.get("maxLength") == "120"
    assert record.get("playBeep") == "true"
    assert record.get("finishOnKey") == "#"
    assert record.get("action") == BASE + "/twilio/voice/recorded"
    assert record.get("recordingStatusCallback") == BASE + "/twilio/voice/recording"
    assert record.get("recordingStatusCallbackEvent") == "completed absent"
    assert record.get("transcribe") == "true"
    assert record.get("transcribeCallback") == BASE + "/twilio/voice/transcription"
    assert root.find("Gather") is None


def test_voice_language_and_length_are_configurable() -> None:
    settings = Settings(
        voice_say_voice="Polly.Gwyneth", voice_language="cy-GB", voice_max_recording_seconds=300
    )
    root = parse(greeting(settings, URLS, out_of_hours=False))
    assert {say.get("voice") for say in root.iter("Say")} == {"Polly.Gwyneth"}
    assert {say.get("language") for say in root.iter("Say")} == {"cy-GB"}
    record = root.find("Record")
    assert record is not None and record.get("maxLength") == "300"


def test_out_of_hours_greeting_differs_and_still_records() -> None:
    settings = Settings(org_name="Riverside Advocacy")
    root = parse(greeting(settings, URLS, out_of_hours=True))
    first = root.find("Say")
    assert first is not None and first.text is not None
    assert "closed" in first.text and "999" in first.text and "116 123" in first.text
    assert "Riverside Advocacy" in first.text
    prompt = root.findall("Say")[1].text or ""
    assert "when we next open" in prompt
    assert root.find("Record") is not None


@pytest.mark.parametrize(
    ("when", "closed"),
    [
        (datetime(2025, 12, 9, 10, 30, tzinfo=UTC), False),  # a Tuesday morning in December
        (datetime(2025, 12, 9, 23, 0, tzinfo=UTC), True),  # the same Tuesday at night
        (datetime(2025, 12, 25, 11, 0, tzinfo=UTC), True),  # Christmas Day, a Thursday
        (datetime(2026, 8, 31, 11, 0, tzinfo=UTC), True),  # Summer bank holiday 2026
        (datetime(2027, 12, 28, 11, 0, tzinfo=UTC), True),  # substitute Boxing Day 2027
        (datetime(2025, 12, 13, 11, 0, tzinfo=UTC), True),  # a Saturday
        (datetime(2025, 7, 1, 8, 30, tzinfo=UTC), False),  # 09:30 British Summer Time
        (datetime(2025, 7, 1, 16, 30, tzinfo=UTC), True),  # 17:30 BST: just closed
    ],
)
def test_out_of_hours_by_opening_hours_and_bank_holidays(when: datetime, closed: bool) -> None:
    assert out_of_hours(Settings(), when) is closed


def test_out_of_hours_twiml_on_a_bank_holiday_and_at_night() -> None:
    settings = Settings()
    for when in (datetime(2026, 4, 3, 12, 0, tzinfo=UTC), datetime(2026, 4, 7, 21, 0, tzinfo=UTC)):
        root = parse(greeting(settings, URLS, out_of_hours=out_of_hours(settings, when)))
        assert "closed" in (root.findall("Say")[0].text or "")


def test_bank_holiday_file_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text('["2025-12-09"]', encoding="utf-8")
    settings = Settings(voice_bank_holidays_file=path)
    assert out_of_hours(settings, datetime(2025, 12, 9, 10, 30, tzinfo=UTC))
    assert not out_of_hours(settings, datetime(2025, 12, 25, 11, 0, tzinfo=UTC))


def test_shipped_bank_holidays_cover_2025_to_2027_on_weekdays() -> None:
    days = load_bank_holidays(Settings().voice_bank_holidays_file)
    for year in (2025, 2026, 2027):
        in_year = sorted(d for d in days if d.year == year)
        assert len(in_year) == 8
        assert all(d.weekday() < 5 for d in in_year)
    assert date(2026, 4, 3) in days and date(2027, 3, 29) in days  # Good Friday, Easter Monday


@pytest.mark.parametrize(
    ("spec", "when", "expected"),
    [
        ("mon-fri 09:00-17:00", datetime(2025, 12, 8, 9, 0, tzinfo=UTC), True),
        ("mon-fri 09:00-17:00", datetime(2025, 12, 8, 17, 0, tzinfo=UTC), False),
        ("mon-fri 9:00-13:00; sat 10:00-12:00", datetime(2025, 12, 13, 11, 0, tzinfo=UTC), True),
        ("fri-mon 10:00-14:00", datetime(2025, 12, 14, 11, 0, tzinfo=UTC), True),  # Sunday
        ("fri-mon 10:00-14:00", datetime(2025, 12, 10, 11, 0, tzinfo=UTC), False),  # Wednesday
        ("", datetime(2025, 12, 8, 11, 0, tzinfo=UTC), False),
    ],
)
def test_opening_hours_spec(spec: str, when: datetime, expected: bool) -> None:
    assert is_open(when, parse_opening_hours(spec)) is expected


@pytest.mark.parametrize("spec", ["weekdays 9-5", "mon-fri 17:00-09:00", "mon-xyz 09:00-10:00"])
def test_bad_opening_hours_are_refused(spec: str) -> None:
    with pytest.raises(BadOpeningHours):
        parse_opening_hours(spec)


def test_menu_gathers_one_digit_only_when_an_on_call_number_is_set() -> None:
    without_number = parse(greeting(Settings(voice_menu=True), URLS, out_of_hours=False))
    assert without_number.find("Gather") is None
    settings = Settings(voice_menu=True, voice_on_call_number=ON_CALL)
    root = parse(greeting(settings, URLS, out_of_hours=False))
    assert verbs(root)[:2] == ["Say", "Gather"]
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == BASE + "/twilio/voice/menu"
    assert "press 1" in (gather.findtext("Say") or "")
    assert root.find("Record") is not None  # no key pressed: on to the voicemail


def test_menu_choice_one_dials_the_on_call_number_others_record() -> None:
    settings = Settings(voice_menu=True, voice_on_call_number=ON_CALL)
    root = parse(menu_answer(settings, URLS, "1", out_of_hours=False))
    dial = root.find("Dial")
    assert dial is not None and (dial.text or "").strip() == ON_CALL
    assert dial.get("action") == BASE + "/twilio/voice/dialled"
    assert root.find("Record") is None
    other = parse(menu_answer(settings, URLS, "5", out_of_hours=False))
    assert other.find("Dial") is None and other.find("Record") is not None


def test_after_dial_hangs_up_when_answered_else_offers_voicemail() -> None:
    settings = Settings(voice_menu=True, voice_on_call_number=ON_CALL)
    assert verbs(parse(after_dial(settings, URLS, "completed", out_of_hours=False))) == ["Hangup"]
    unanswered = parse(after_dial(settings, URLS, "no-answer", out_of_hours=True))
    assert unanswered.find("Record") is not None


def test_thank_you_hangs_up() -> None:
    assert verbs(parse(thank_you(Settings()))) == ["Say", "Hangup"]


def test_local_transcription_engine_keeps_twilio_from_transcribing() -> None:
    settings = Settings(voice_transcription="command", voice_transcription_command="stt")
    record = parse(greeting(settings, URLS, out_of_hours=False)).find("Record")
    assert record is not None
    assert record.get("transcribe") is None and record.get("transcribeCallback") is None
    assert record.get("recordingStatusCallback") == BASE + "/twilio/voice/recording"


def test_command_line_and_media_url() -> None:
    path = Path("/tmp/x/recording.wav")
    assert build_command("whisper -f {file} --quiet", path) == [
        "whisper", "-f", str(path), "--quiet"
    ]
    assert build_command(f"{sys.executable} stt.py", path) == [sys.executable, "stt.py", str(path)]
    assert recording_media_url("https://api.twilio.com/R/RE1") == "https://api.twilio.com/R/RE1.wav"
    assert recording_media_url("https://x/RE1.mp3") == "https://x/RE1.mp3"


def test_voice_settings_from_environment() -> None:
    settings = load_settings(
        {
            "VOICE_MENU": "yes",
            "VOICE_ON_CALL_NUMBER": ON_CALL,
            "VOICE_OPENING_HOURS": "mon-thu 10:00-16:00",
            "VOICE_TRANSCRIPT_TIMEOUT": "300",
            "VOICE_TRANSCRIPTION": "Command",
            "VOICE_MAX_RECORDING_SECONDS": "90",
        },
        dotenv=False,
    )
    assert settings.voice_menu and settings.voice_on_call_number == ON_CALL
    assert settings.voice_transcript_timeout == 300
    assert settings.voice_transcription == "command"
    assert settings.voice_max_recording_seconds == 90


@pytest.mark.parametrize(
    ("number", "withheld"),
    [
        ("anonymous", True),
        ("Anonymous", True),
        ("+266696687", True),
        ("Restricted", True),
        ("+7378742833", True),
        ("", True),
        ("+447700900123", False),
        ("+441632960001", False),
    ],
)
def test_withheld_caller_ids(number: str, withheld: bool) -> None:
    assert is_withheld(number) is withheld


@pytest.mark.parametrize(
    ("number", "mobile"),
    [
        ("+447700900123", True),
        ("+447911123456", True),
        ("+447624123456", True),  # Isle of Man mobile
        ("+447012345678", False),  # personal number
        ("+447612345678", False),  # pager
        ("+441632960001", False),  # landline
        ("+353851234567", False),  # Irish mobile
        ("anonymous", False),
    ],
)
def test_uk_mobile(number: str, mobile: bool) -> None:
    assert is_uk_mobile(number) is mobile


def test_live_incoming_call_answers_twiml_with_public_callback_urls(
    runtime: Runtime, live_url: str, http: httpx.Client
) -> None:
    """Behind a proxy: callback URLs are built from PUBLIC_BASE_URL, which is what is signed."""
    from tests.conftest import AUTH_TOKEN
    from tests.support.twilio_signing import post_signed

    runtime.settings = runtime.settings.with_(public_base_url=BASE)
    call = Call()
    response = post_signed(
        http,
        live_url + "/twilio/voice",
        call.incoming(),
        AUTH_TOKEN,
        signed_url=BASE + "/twilio/voice",
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    record = parse(response.text).find("Record")
    assert record is not None
    callback = record.get("recordingStatusCallback") or ""
    assert callback == BASE + "/twilio/voice/recording"
    # Twilio will sign exactly that URL when it calls back; the app must accept it.
    recording_url = live_url + "/twilio/voice/recording"
    accepted = post_signed(http, recording_url, call.recording(), AUTH_TOKEN, signed_url=callback)
    assert accepted.status_code == 200
    refused = post(http, live_url, "/twilio/voice/recording", call.recording())
    assert refused.status_code == 403
    assert queued(runtime) == 2
