"""Turning a voicemail recording into text: a pluggable step.

An engine says whether Twilio should transcribe (`transcribe="true"` in the TwiML, the text then
arrives on `/twilio/voice/transcription`), or transcribes the downloaded recording itself in the
worker. Organisations that must keep callers' audio away from third-party speech services choose
`VOICE_TRANSCRIPTION=command` and point `VOICE_TRANSCRIPTION_COMMAND` at a local program (for
example whisper.cpp or Vosk wrapped in a script): it gets the path of the WAV file and prints the
transcript on standard output. Code can add engines of its own with `register_engine`.

Engines:
- `twilio` (default): Twilio's built-in transcription (paid, recordings of 2-120 seconds).
- `command`: a local program, see `intake.transcription.command`.
- `none`: no transcription; every voicemail is flagged "listen to recording".
"""

from __future__ import annotations

from intake.config import Settings
from intake.transcription.base import Engine, Recording, Transcript
from intake.transcription.command import CommandEngine
from intake.transcription.engines import NoTranscription, TwilioTranscription

__all__ = [
    "ENGINES",
    "Engine",
    "Recording",
    "Transcript",
    "engine_for",
    "register_engine",
]

ENGINES: dict[str, Engine] = {
    "twilio": TwilioTranscription(),
    "command": CommandEngine(),
    "none": NoTranscription(),
}


def register_engine(name: str, engine: Engine) -> None:
    """Add (or replace) an engine; select it with `VOICE_TRANSCRIPTION=<name>`."""
    ENGINES[name] = engine


def engine_for(settings: Settings) -> Engine:
    try:
        return ENGINES[settings.voice_transcription]
    except KeyError:
        raise ValueError(
            f"unknown VOICE_TRANSCRIPTION {settings.voice_transcription!r}; "
            f"choose one of {', '.join(sorted(ENGINES))}"
        ) from None
