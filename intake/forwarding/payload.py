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

from intake.forwarding.base import ForwardEvent
from intake.models import Referral

SCHEMA_ID = "referral-event.v1"
SCHEMA_FILE = "referral-event.v1.json"
# v2 adds `referral.erased` (its referral is the reference alone); v1's events are unchanged and
# still sent as v1, so a receiver that validates against v1 keeps working until it erases.
SCHEMA_V2_ID = "referral-event.v2"
SCHEMA_V2_FILE = "referral-event.v2.json"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def details(referral: Referral) -> dict[str, Any]:
    """The extracted fields, whether the extractor stored them flat or under `fields`."""
    return details_of(referral.fields or {})


def details_of(stored: dict[str, Any]) -> dict[str, Any]:
    """`details` of a referral's stored `fields` document."""
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
    if event.event == "erased":
        return build_erased(event)
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


def build_erased(event: ForwardEvent) -> dict[str, Any]:
    """A `referral.erased` event (schema `referral-event.v2`): the reference and nothing about
    the person; the receiver deletes its copy of the case (UK GDPR Article 17(2), 19)."""
    return {
        "schema": SCHEMA_V2_ID,
        "id": event.event_id,
        "type": "referral.erased",
        "sequence": event.sequence,
        "occurred_at": _iso(event.occurred_at),
        "referral": {"reference": event.referral.reference},
    }


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes that are signed and sent: compact, UTF-8, keys in a stable order."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def schema(version: int = 1) -> dict[str, Any]:
    name = SCHEMA_FILE if version == 1 else SCHEMA_V2_FILE
    text = resources.files("intake.forwarding").joinpath("schema", name).read_text()
    return dict(json.loads(text))
