"""The engines that need no code of their own: Twilio's transcription, and none at all."""

from __future__ import annotations

from intake.config import Settings
from intake.transcription.base import Recording, Transcript


class TwilioTranscription:
    """Twilio transcribes (`transcribe="true"`); the text comes back on the callback."""

    name = "twilio"
    twilio_transcribes = True

    def transcribe(self, settings: Settings, recording: Recording) -> Transcript:
        raise RuntimeError("Twilio's transcript arrives on /twilio/voice/transcription")


class NoTranscription:
    """No speech-to-text: advocates listen to every recording."""

    name = "none"
    twilio_transcribes = False

    def transcribe(self, settings: Settings, recording: Recording) -> Transcript:
        return Transcript("failed", engine=self.name, detail="transcription is turned off")
