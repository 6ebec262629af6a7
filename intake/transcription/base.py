"""The shapes a transcription engine works with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from intake.config import Settings


@dataclass(frozen=True)
class Recording:
    """A finished voicemail recording as Twilio reported it."""

    call_sid: str
    url: str
    sid: str = ""
    duration: int | None = None


@dataclass(frozen=True)
class Transcript:
    """What an engine made of a recording; `status` is `completed` or `failed`."""

    status: str
    text: str = ""
    engine: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "completed" and bool(self.text.strip())


class Engine(Protocol):
    """A transcription engine.

    `twilio_transcribes`: ask Twilio to transcribe in the TwiML; the transcript then arrives on
    the transcription callback and `transcribe` is never called. Otherwise the worker calls
    `transcribe` with the finished recording, in a job of its own, and it returns a `Transcript`
    (failures are a `failed` transcript, not an exception, unless a retry could help).
    """

    name: str
    twilio_transcribes: bool

    def transcribe(self, settings: Settings, recording: Recording) -> Transcript: ...
