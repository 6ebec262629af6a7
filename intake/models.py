"""The shapes every part of intake agrees on.

Channel adapters produce an `InboundMessage`; the worker turns it into (or adds it to) a `Referral`.
Jobs carry messages as plain dicts (`to_payload`), never pickled objects, so a worker running a
newer version of the code can still read what an older web process queued.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

URGENCIES = ("emergency", "urgent", "routine")
URGENCY_RANK = {name: rank for rank, name in enumerate(URGENCIES)}
# Who the audit trail names when intake itself acted (screening, forwarding, acknowledging).
SYSTEM_ACTOR = "system"


def most_urgent(*levels: str) -> str:
    """The most urgent of `levels` (an unknown level counts as below routine)."""
    return min(levels, key=lambda level: URGENCY_RANK.get(level, len(URGENCIES)))


def more_urgent(level: str, than: str) -> bool:
    return URGENCY_RANK.get(level, len(URGENCIES)) < URGENCY_RANK.get(than, len(URGENCIES))


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
class Attachment:
    """A file that came with a message (an email attachment, an MMS picture); `text` is what was
    read from it for screening, None when nothing could be (yet).

    `unread`: its text needs a parser (PDF, DOCX, RTF, HTML, winmail.dat), which runs later in a
    sandboxed job (`intake.documents`), never in the worker that stores the message; the message
    is revised with the text once it has been read.
    """

    filename: str
    content_type: str
    size: int
    data: bytes = field(repr=False)
    text: str | None = field(default=None, repr=False)
    unread: bool = False


@dataclass(frozen=True)
class InboundMessage:
    """One message as it arrived on one channel, before anything is inferred from it.

    `provider_id` is the channel's own identifier (Twilio MessageSid or CallSid, email Message-ID):
    the store keeps it unique per channel, which is what makes redelivery harmless. A channel may
    hand the pipeline the same `provider_id` again with more in it (a voicemail whose transcript
    has come): the stored message is then revised, not duplicated.

    What a channel knows that the text does not say:
    - `pending`: more of this message is on its way (a transcript): it is stored and screened
      now, forwarded and acknowledged once complete (an emergency is forwarded at once);
    - `urgency_floor`: the least urgency the message can have (the caller pressed the emergency
      key; a voicemail nobody can read yet is at least urgent), with `review_reason` for a person;
    - `facts`: fields the channel is sure of (a voicemail's recording link and transcript state);
      they replace earlier values of the same keys, unlike fields guessed from text;
    - `placeholder`: the body is a note for people ("Voicemail: transcript pending"), not what
      the sender said: it is shown, never screened or extracted;
    - `attachments`: files that came with it, stored with the message in the same transaction.
      They are made by the worker side of a channel and never travel in a job's payload.
    """

    channel: str
    provider_id: str
    sender: str
    recipient: str
    body: str
    received_at: datetime = field(default_factory=utcnow)
    meta: dict[str, Any] = field(default_factory=dict)
    pending: bool = False
    urgency_floor: str | None = None
    review_reason: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    placeholder: bool = False
    attachments: tuple[Attachment, ...] = field(default=(), repr=False)

    def to_payload(self) -> dict[str, Any]:
        data = asdict(replace(self, attachments=()))
        del data["attachments"]
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
            pending=bool(data.get("pending")),
            urgency_floor=data.get("urgency_floor"),
            review_reason=data.get("review_reason"),
            facts=dict(data.get("facts") or {}),
            placeholder=bool(data.get("placeholder")),
        )


@dataclass
class Referral:
    """A referral as the store holds it: who, how, what was said, and what screening made of it.

    `urgency_decided_by` names the advocate who last set the urgency by hand (None while it is
    screening's): automatic screening never overrides a person's decision. `new_message_at` is
    when a message arrived that a person has not yet seen since they triaged it or decided its
    urgency ("new message since triage"); triage clears it.

    `language` is the ISO 639-1 code screening identified the messages as (None: too short or
    unknown); `language_preference` the language the person asked to be written to in (an ISO
    639-1 code, or "easy-read"), None until they say. Replies use `intake.languages.choose`.
    """

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
    urgency_decided_by: str | None = None
    new_message_at: datetime | None = None
    language: str | None = None
    language_preference: str | None = None
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("received_at", "created_at", "updated_at", "new_message_at"):
            value = data.get(key)
            data[key] = value.isoformat() if isinstance(value, datetime) else value
        data.pop("id", None)
        return data
