"""A local speech-to-text program as the transcription engine, so audio stays in-house.

`VOICE_TRANSCRIPTION_COMMAND` is a command line; `{file}` in it is replaced with the path of the
downloaded WAV recording (or the path is added at the end when there is no `{file}`). The program
must print the transcript on standard output and exit 0. For example, with whisper.cpp:

    VOICE_TRANSCRIPTION=command
    VOICE_TRANSCRIPTION_COMMAND="/opt/whisper/main -m /opt/whisper/base.en.bin -nt -f {file}"

The recording is fetched from Twilio with the account's credentials (only from Twilio's hosts,
with a size and time limit: `intake.media_fetch`) into a temporary file that is deleted
afterwards. Delete the recording from Twilio too (console or API) if the audio must not stay with
them. The transcript is never logged.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import tempfile
from pathlib import Path

from intake.config import Settings
from intake.media_fetch import FetchFailed, fetch
from intake.transcription.base import Recording, Transcript

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 600  # seconds: a two-minute recording on a slow CPU model
DOWNLOAD_SECONDS = 60.0


class DownloadFailed(Exception):
    """Twilio could not be reached or did not have the recording yet: worth retrying."""


def recording_media_url(url: str) -> str:
    """Twilio serves a recording as WAV when `.wav` is added to its URL."""
    path = url.split("?", 1)[0]
    return url if path.endswith((".wav", ".mp3")) else url + ".wav"


def recording_limit(settings: Settings) -> int:
    """The most bytes a recording may have: WAV at 8 kHz, 16-bit, stereo (Twilio's dual-channel
    recordings), for `VOICE_MAX_RECORDING_SECONDS`, plus a megabyte."""
    return settings.voice_max_recording_seconds * 8000 * 2 * 2 + 1024 * 1024


def download_recording(settings: Settings, url: str, dest: Path) -> None:
    """Fetch the recording with the account's credentials (Twilio requires them by default),
    from Twilio's hosts only and within a size and time limit (`intake.media_fetch`).

    Raises `DownloadFailed` when a retry may help, `ValueError` when the URL must not be fetched
    (not Twilio's, or redirected elsewhere, or too large).
    """
    try:
        got = fetch(
            settings,
            recording_media_url(url),
            max_bytes=recording_limit(settings),
            deadline=DOWNLOAD_SECONDS,
        )
    except FetchFailed as exc:
        if exc.retry:
            raise DownloadFailed(str(exc)) from exc
        raise ValueError(f"recording not fetched: {exc}") from exc
    dest.write_bytes(got.data)


def build_command(template: str, path: Path) -> list[str]:
    parts = shlex.split(template)
    if not parts:
        raise ValueError("VOICE_TRANSCRIPTION_COMMAND is empty")
    if any("{file}" in part for part in parts):
        return [part.replace("{file}", str(path)) for part in parts]
    return [*parts, str(path)]


class CommandEngine:
    """Download the recording and run the configured local program on it."""

    name = "command"
    twilio_transcribes = False

    def transcribe(self, settings: Settings, recording: Recording) -> Transcript:
        if not settings.voice_transcription_command:
            return Transcript("failed", engine=self.name, detail="no command configured")
        with tempfile.TemporaryDirectory(prefix="intake-voicemail-") as tmp:
            path = Path(tmp) / "recording.wav"
            try:
                download_recording(settings, recording.url, path)
            except ValueError as exc:  # not Twilio's, or too large: a person listens instead
                log.warning("recording for %s refused: %s", recording.call_sid, exc)
                return Transcript("failed", engine=self.name, detail="recording refused")
            argv = build_command(settings.voice_transcription_command, path)
            try:
                done = subprocess.run(
                    argv, capture_output=True, timeout=COMMAND_TIMEOUT, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.warning("transcription command failed for %s: %s", recording.call_sid, exc)
                return Transcript("failed", engine=self.name, detail=type(exc).__name__)
        text = done.stdout.decode("utf-8", errors="replace").strip()
        if done.returncode != 0 or not text:
            log.warning(
                "transcription command for %s exited %s with %d characters",
                recording.call_sid,
                done.returncode,
                len(text),
            )
            return Transcript("failed", engine=self.name, detail=f"exit {done.returncode}")
        return Transcript("completed", text=text, engine=self.name)
