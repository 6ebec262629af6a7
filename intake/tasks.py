"""RQ job entry points: thin wrappers that find the process's runtime and call the pipeline.

Jobs take plain dicts so a worker can read what any version of the web process queued.
"""

from __future__ import annotations

from typing import Any

from intake import pipeline, runtime
from intake.models import InboundMessage


def process_inbound(payload: dict[str, Any]) -> dict[str, Any]:
    result = pipeline.handle_inbound(runtime.current(), InboundMessage.from_payload(payload))
    return {
        "reference": result.reference,
        "created": result.created,
        "acknowledgement": result.acknowledgement,
    }


def process_email(payload: dict[str, Any]) -> dict[str, Any]:
    """One raw email queued by the SMTP server (`channels/email/server.py`)."""
    from intake import email_intake

    return email_intake.process_email(runtime.current(), payload)


def forward_referral(reference: str, event_id: str) -> dict[str, Any]:
    """One attempt to deliver one referral event to the case system (`intake.forwarding`)."""
    from intake import forwarding

    return forwarding.deliver(runtime.current(), reference, event_id)


def process_voice_event(kind: str, event: dict[str, Any]) -> dict[str, Any]:
    """One Twilio Voice callback queued by `channels/voice.py` (call, menu, recording, ...)."""
    from intake import voicemail

    return voicemail.handle_event(runtime.current(), kind, event)


def voice_transcript_timeout(call_sid: str) -> dict[str, Any]:
    """Delayed job: flag a voicemail whose transcript never came."""
    from intake import voicemail

    return voicemail.transcript_timeout(runtime.current(), call_sid)


def voice_transcribe(call_sid: str) -> dict[str, Any]:
    """Run the local transcription engine (`VOICE_TRANSCRIPTION=command`) on a recording."""
    from intake import voicemail

    return voicemail.transcribe(runtime.current(), call_sid)
