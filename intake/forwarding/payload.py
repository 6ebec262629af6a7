"""The referral event as JSON: schema `referral-event.v1` (schema/referral-event.v1.json).

The webhook sends exactly this; the email and FHIR forwarders read the same dict, so the three
never disagree about what a referral says. Adding optional properties keeps the version; removing
or retyping one means a `v2` schema file beside this one.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

from intake import communication
from intake.forwarding.base import ForwardEvent
from intake.models import Referral

SCHEMA_ID = "referral-event.v1"
SCHEMA_FILE = "referral-event.v1.json"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def details(referral: Referral) -> dict[str, Any]:
    """The extracted fields, whether the extractor stored them flat or under `fields`."""
    stored = referral.fields or {}
    inner = stored.get("fields")
    # `confidence` and `evidence` (the span each value came from) describe the fields; they
    # are not fields themselves.
    found = (
        dict(inner)
        if isinstance(inner, dict)
        else {k: v for k, v in stored.items() if k not in ("confidence", "evidence")}
    )
    return {k: v for k, v in found.items() if v is not None and v != ""}


def build(event: ForwardEvent) -> dict[str, Any]:
    referral = event.referral
    return {
        "schema": SCHEMA_ID,
        "id": event.event_id,
        "type": f"referral.{event.event}",
        "sequence": event.sequence,
        "occurred_at": _iso(event.occurred_at),
        "referral": {
            "reference": referral.reference,
            "channel": referral.channel,
            "sender": referral.sender,
            "received_at": _iso(referral.received_at),
            "urgency": referral.urgency,
            "safeguarding": list(referral.safeguarding),
            "safe_to_contact": referral.safe_to_contact,
            "needs_review": bool(referral.screening.get("needs_review", False)),
            "status": referral.status,
            "details": details(referral),
            "language": referral.language,
            "language_preference": referral.language_preference,
            "communication_needs": [n.label for n in communication.needs(referral.fields)],
            "no_voice_call": not communication.voice_call_back(referral.fields),
            "messages": [
                {
                    "channel": m["channel"],
                    "provider_id": m["provider_id"],
                    "sender": m["sender"],
                    "received_at": _iso(m["received_at"]),
                    "body": m["body"],
                }
                for m in event.messages
            ],
        },
    }


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes that are signed and sent: compact, UTF-8, keys in a stable order."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def schema() -> dict[str, Any]:
    text = resources.files("intake.forwarding").joinpath("schema", SCHEMA_FILE).read_text()
    return dict(json.loads(text))
