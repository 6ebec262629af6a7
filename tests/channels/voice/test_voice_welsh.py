"""The Welsh Language Standards on a call: the Welsh prompt first, in Twilio's Welsh voice."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from channels.voice import twiml
from intake.config import Settings

URLS = twiml.Urls("https://intake.example.org")


def says(xml: str) -> list[tuple[str, str, str]]:
    root = ET.fromstring(xml)
    return [
        (el.text or "", el.get("voice", ""), el.get("language", "")) for el in root.iter("Say")
    ]


def test_welsh_first_then_english_when_the_standards_apply() -> None:
    settings = Settings(org_name="Eiriolaeth Gogledd", welsh_language_standards=True)
    spoken = says(twiml.greeting(settings, URLS, out_of_hours=False))
    (welsh_text, welsh_voice, welsh_lang), (english_text, english_voice, _lang) = spoken[:2]
    assert (welsh_voice, welsh_lang) == ("Polly.Gwyneth", "cy-GB")
    assert welsh_text.startswith("Helo, dyma Eiriolaeth Gogledd.") and "999" in welsh_text
    assert english_voice == settings.voice_say_voice
    assert english_text.startswith("Hello, you've reached Eiriolaeth Gogledd.")
    # Every prompt of the call, the recording prompt included, is Welsh first.
    assert [lang for _t, _v, lang in spoken] == ["cy-GB", "en-GB"] * (len(spoken) // 2)


def test_english_only_without_the_standards() -> None:
    spoken = says(twiml.greeting(Settings(), URLS, out_of_hours=True))
    assert all(lang == "en-GB" for _t, _v, lang in spoken)
    assert spoken[0][0].startswith("Hello, you've reached")
