"""The TwiML intake answers calls with (pure: settings and URLs in, XML out).

Every callback URL is absolute and built from `PUBLIC_BASE_URL` when it is set, so the URL Twilio
signs when it calls back is exactly the one intake validates against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from intake import languages
from intake.config import Settings
from intake.templating import render_text
from intake.transcription import engine_for

MENU_DANGER_DIGIT = "1"
SILENCE_TIMEOUT = 10  # seconds of silence that end a recording; anxious callers pause
MENU_TIMEOUT = 6
DIAL_TIMEOUT = 25

PATHS = {
    "voice": "/twilio/voice",
    "menu": "/twilio/voice/menu",
    "dialled": "/twilio/voice/dialled",
    "recorded": "/twilio/voice/recorded",
    "recording": "/twilio/voice/recording",
    "transcription": "/twilio/voice/transcription",
    "status": "/twilio/voice/status",
}


@dataclass(frozen=True)
class Urls:
    """Absolute callback URLs, all under one base."""

    base: str

    def __getattr__(self, name: str) -> str:
        try:
            return self.base.rstrip("/") + PATHS[name]
        except KeyError:
            raise AttributeError(name) from None


def menu_enabled(settings: Settings) -> bool:
    return settings.voice_menu and bool(settings.voice_on_call_number)


def spoken(settings: Settings, template: str, **context: object) -> list[tuple[str, str, str]]:
    """(text, voice, language) of each `<Say>` for a prompt: English in the configured voice;
    with the Welsh Language Standards on, the Welsh prompt first in Twilio's Welsh voice
    (`templates/lang/languages.toml`: Polly.Gwyneth, cy-GB), then the English one."""
    values = {"org_name": settings.org_name, "crisis_line": settings.crisis_line, **context}
    name = f"voice/{template}.txt"
    said: list[tuple[str, str, str]] = []
    welsh = languages.language(settings.templates_dir, languages.WELSH)
    path = languages.template_path(settings.templates_dir, name, languages.WELSH)
    if settings.welsh_language_standards and welsh and welsh.voice and path:
        text = render_text(settings.templates_dir, path, **values)
        said.append((" ".join(text.split()), welsh.voice, welsh.voice_language or "cy-GB"))
    text = render_text(settings.templates_dir, name, **values)
    said.append((" ".join(text.split()), settings.voice_say_voice, settings.voice_language))
    return said


def _say(settings: Settings, response: Any, template: str, **context: object) -> None:
    for text, voice, language in spoken(settings, template, **context):
        response.say(text, voice=voice, language=language)


def _record(settings: Settings, response: VoiceResponse, urls: Urls, *, out_of_hours: bool) -> None:
    """The recording prompt, `<Record>`, and what happens when nothing was recorded."""
    _say(settings, response, "record_prompt", out_of_hours=out_of_hours)
    extra: dict[str, str] = {}
    if engine_for(settings).twilio_transcribes:
        extra = {"transcribe": "true", "transcribe_callback": urls.transcription}
    response.record(
        action=urls.recorded,
        method="POST",
        timeout=SILENCE_TIMEOUT,
        finish_on_key="#",
        max_length=settings.voice_max_recording_seconds,
        play_beep=True,
        trim="trim-silence",
        recording_status_callback=urls.recording,
        recording_status_callback_method="POST",
        recording_status_callback_event="completed absent",
        **extra,
    )
    # Twilio skips the action and carries on here when the recording was empty.
    _say(settings, response, "no_message")
    response.hangup()


def greeting(settings: Settings, urls: Urls, *, out_of_hours: bool) -> str:
    """The answer to a new call: greeting, 999 advice, the optional menu, then the recording."""
    response = VoiceResponse()
    _say(settings, response, "greeting_out_of_hours" if out_of_hours else "greeting")
    if menu_enabled(settings):
        gather = response.gather(
            input="dtmf",
            num_digits=1,
            timeout=MENU_TIMEOUT,
            action=urls.menu,
            method="POST",
            action_on_empty_result=False,
        )
        _say(settings, gather, "menu")
    _record(settings, response, urls, out_of_hours=out_of_hours)
    return str(response.to_xml())


def menu_answer(settings: Settings, urls: Urls, digits: str, *, out_of_hours: bool) -> str:
    """Danger now: put the caller through to the on-call number; anything else: record."""
    response = VoiceResponse()
    if digits == MENU_DANGER_DIGIT and menu_enabled(settings):
        _say(settings, response, "connecting")
        response.dial(
            settings.voice_on_call_number,
            action=urls.dialled,
            method="POST",
            timeout=DIAL_TIMEOUT,
        )
        return str(response.to_xml())
    _record(settings, response, urls, out_of_hours=out_of_hours)
    return str(response.to_xml())


def after_dial(settings: Settings, urls: Urls, dial_status: str, *, out_of_hours: bool) -> str:
    """After the on-call call: hang up if it was answered, else offer the voicemail."""
    response = VoiceResponse()
    if dial_status == "completed":
        response.hangup()
        return str(response.to_xml())
    _say(settings, response, "after_dial")
    _record(settings, response, urls, out_of_hours=out_of_hours)
    return str(response.to_xml())


def thank_you(settings: Settings) -> str:
    response = VoiceResponse()
    _say(settings, response, "thank_you")
    response.hangup()
    return str(response.to_xml())


def empty() -> str:
    return str(VoiceResponse().to_xml())
