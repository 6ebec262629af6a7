"""Helpers for the voice tests: Twilio's callback forms for one synthetic call, signed posts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import httpx
from rq import Queue

from intake.queue import queue_name
from intake.runtime import Runtime
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.support.twilio_signing import post_signed
from worker import build_worker

ROUTINE = (
    "Hello, my name is Pat Okafor. I'd like some information about complaints advocacy, my "
    "dad's discharge from hospital last month didn't go well. You can call me back on this "
    "number next week. Thank you."
)
URGENT = (
    "Hi, my name is Carol Denton. I'm calling about my brother Michael who is on a section 3 at "
    "the Linden unit. He wants to appeal to the tribunal and would like an advocate. You can ring "
    "me back on this number. Thanks."
)
EMERGENCY = (
    "It's about my neighbour Joan, she has taken all her tablets, about thirty paracetamol, and "
    "she says she wants to die tonight."
)
DONT_TEXT = (
    "Please do not text me back, he checks my phone. I need help with a care assessment for my "
    "mum, I'll ring again tomorrow."
)


@dataclass
class Call:
    """One call's worth of Twilio callbacks, all sharing a CallSid."""

    caller: str = "+447700900123"
    call_sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    recording_sid: str = field(default_factory=lambda: "RE" + secrets.token_hex(16))

    @property
    def recording_url(self) -> str:
        return (
            f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/"
            f"{self.recording_sid}"
        )

    def base(self) -> dict[str, str]:
        return {"CallSid": self.call_sid, "AccountSid": ACCOUNT_SID}

    def incoming(self) -> dict[str, str]:
        return {
            **self.base(),
            "From": self.caller,
            "To": FROM_NUMBER,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }

    def recording(self, duration: int = 23, status: str = "completed") -> dict[str, str]:
        # Twilio's recording status callback: note that it carries no From or To.
        return {
            **self.base(),
            "RecordingSid": self.recording_sid,
            "RecordingUrl": self.recording_url,
            "RecordingStatus": status,
            "RecordingDuration": str(duration),
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
            "RecordingStartTime": "Tue, 09 Dec 2025 10:15:02 +0000",
        }

    def transcription(self, text: str, status: str = "completed") -> dict[str, str]:
        form = {
            **self.base(),
            "From": self.caller,
            "To": FROM_NUMBER,
            "CallStatus": "completed",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            "TranscriptionSid": "TR" + secrets.token_hex(16),
            "TranscriptionStatus": status,
            "TranscriptionUrl": self.recording_url + "/Transcriptions/TR1",
            "RecordingSid": self.recording_sid,
            "RecordingUrl": self.recording_url,
        }
        if status == "completed":
            form["TranscriptionText"] = text
        return form

    def status(self, call_status: str = "completed", duration: int = 14) -> dict[str, str]:
        return {
            **self.base(),
            "From": self.caller,
            "To": FROM_NUMBER,
            "CallStatus": call_status,
            "CallDuration": str(duration),
            "Direction": "inbound",
        }

    def menu(self, digits: str) -> dict[str, str]:
        return {**self.incoming(), "CallStatus": "in-progress", "Digits": digits}


def post(http: httpx.Client, base_url: str, path: str, form: dict[str, str]) -> httpx.Response:
    return post_signed(http, base_url + path, form, AUTH_TOKEN)


def queued(runtime: Runtime) -> int:
    return sum(
        Queue(queue_name(runtime.settings, p), connection=runtime.redis).count
        for p in ("high", "default")
    )


def drain(runtime: Runtime, *, with_scheduler: bool = False) -> None:
    build_worker(runtime, simple=True).work(burst=True, with_scheduler=with_scheduler)
