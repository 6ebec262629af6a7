"""The referral event as JSON: schema `referral-event.v1` (schema/referral-event.v1.json).

The webhook sends exactly this; the email and FHIR forwarders read the same dict, so the three
never disagree about what a referral says. Adding optional properties keeps the version; removing
or retyping one means a `v2` schema file beside this one.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from intake import communication, precheck
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


def _conversation(messages: list[dict[str, Any]]) -> str:
    # what the extractor read: the messages' bodies joined by newlines (the evidence spans' text)
    return "\n".join(str(m["body"]) for m in messages if m.get("body"))


def eligibility_evidence(referral: Referral, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """For each eligibility card key: its confidence and the words it was read from
    (``{"mha_section": {"confidence": 0.9, "start": 118, "end": 127, "text": "section 2"}}``);
    ``start``/``end`` index the messages' bodies joined by newlines."""
    stored = referral.fields or {}
    confidence = stored.get("confidence") if isinstance(stored.get("confidence"), dict) else {}
    evidence = stored.get("evidence") if isinstance(stored.get("evidence"), dict) else {}
    card = stored.get("eligibility") if isinstance(stored.get("eligibility"), dict) else {}
    text = _conversation(messages)
    out: dict[str, Any] = {}
    for key in card:
        entry: dict[str, Any] = {}
        if isinstance(confidence.get(f"eligibility.{key}"), int | float):
            entry["confidence"] = confidence[f"eligibility.{key}"]
        span = evidence.get(f"eligibility.{key}")
        if isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) for x in span):
            entry["start"], entry["end"] = span
            if 0 <= span[0] < span[1] <= len(text):
                entry["text"] = text[span[0] : span[1]]
        if entry:
            out[str(key)] = entry
    return out


def build(event: ForwardEvent, rules: Path | None = None) -> dict[str, Any]:
    """The event as JSON. ``rules``: the eligibility pre-check's rules file (``ELIGIBILITY_RULES``;
    None: the packaged rules); an erasure is `build_erased`'s smaller event."""
    if event.event == "erased":
        return build_erased(event)
    referral = event.referral
    extra: dict[str, Any] = {}
    evidence = eligibility_evidence(referral, list(event.messages))
    if evidence:
        extra["eligibility_evidence"] = evidence
    findings = precheck.findings(referral.fields or {}, precheck.load(rules))
    if findings:
        extra["eligibility_precheck"] = [f.to_dict() for f in findings]
    deadline = (referral.screening or {}).get("deadline")
    if isinstance(deadline, dict):
        kept = ("kind", "date", "text", "source")
        extra["deadline"] = {k: deadline[k] for k in kept if k in deadline}
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
            **extra,
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
