"""The shapes every part of intake agrees on.

Channel adapters produce an `InboundMessage`; the worker turns it into (or adds it to) a `Referral`.
Jobs carry messages as plain dicts (`to_payload`), never pickled objects, so a worker running a
newer version of the code can still read what an older web process queued.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

CHANNELS = ("sms", "email", "voice")
URGENCIES = ("emergency", "urgent", "routine")
URGENCY_RANK = {name: rank for rank, name in enumerate(URGENCIES)}


def utcnow() -> datetime:
    return datetime.now(UTC)


def received_at_from(value: object) -> datetime:
    """The time a channel recorded in a job's payload (ISO 8601), else now."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return utcnow()


@dataclass(frozen=True)
class InboundMessage:
    """One message as it arrived on one channel, before anything is inferred from it.

    `provider_id` is the channel's own identifier (Twilio MessageSid or CallSid, email Message-ID):
    the store keeps it unique per channel, which is what makes redelivery harmless.
    """

    channel: str
    provider_id: str
    sender: str
    recipient: str
    body: str
    received_at: datetime = field(default_factory=utcnow)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat()
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> InboundMessage:
        received = data.get("received_at")
        return cls(
            channel=data["channel"],
            provider_id=data["provider_id"],
            sender=data.get("sender", ""),
            recipient=data.get("recipient", ""),
            body=data.get("body", ""),
            received_at=datetime.fromisoformat(received) if received else utcnow(),
            meta=dict(data.get("meta") or {}),
        )


@dataclass
class Referral:
    """A referral as the store holds it: who, how, what was said, and what screening made of it."""

    reference: str
    channel: str
    sender: str
    received_at: datetime
    raw_text: str
    urgency: str = "routine"
    safeguarding: list[str] = field(default_factory=list)
    screening: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    status: str = "open"
    forward_status: str = "pending"
    safe_to_contact: bool = True
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("received_at", "created_at", "updated_at"):
            value = data.get(key)
            data[key] = value.isoformat() if isinstance(value, datetime) else value
        data.pop("id", None)
        return data
