"""The worker's side of the email channel: one raw message to a referral, a reply, or a record.

The SMTP server queued the raw bytes; here they are parsed and classified, then:

- an out-of-office reply or a bounce is recorded in `mail_events` (tied to the referral it answers
  when it names one of our acknowledgements) and goes no further: no referral, no acknowledgement;
- a reply to one of our acknowledgements, to an earlier message of a referral, or one that quotes a
  reference (`REF-XXXXXX`) joins that referral as a new message and is screened again; the
  referral's urgency can rise but is never lowered automatically;
- anything else becomes a new referral through the same pipeline as SMS.

Attachments are kept with the referral, and the text extracted from them is part of what screening
and extraction read. The whole job is idempotent (the Message-ID, or a hash of the raw bytes when
there is none, is the message's unique provider id), because RQ may run it twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from datetime import datetime
from typing import Any

from channels.email.autoreply import Classification, classify
from channels.email.parse import ParsedEmail, find_reference, parse_email
from intake import alerts, email_ack, forwarding, pipeline
from intake.extraction import extract
from intake.models import InboundMessage, Referral, received_at_from
from intake.runtime import Runtime
from intake.screening import screen
from intake.store import DuplicateMessage

log = logging.getLogger(__name__)

CHANNEL = "email"
MAX_QUOTED_CHARS = 20_000
_HEADER_MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^<>\s]+)>", re.I | re.M)


def provider_id_for(parsed: ParsedEmail, raw: bytes) -> str:
    """The Message-ID; a hash of the bytes when there is none, so a redelivery still matches."""
    if parsed.message_id:
        return parsed.message_id[:255]
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def screened_text(parsed: ParsedEmail) -> str:
    """What screening and extraction read: the subject, the new text, the attachments' text."""
    parts = [parsed.subject.strip(), parsed.full_text()]
    return "\n\n".join(part for part in parts if part)


def _received_at(payload: dict[str, Any]) -> datetime:
    return received_at_from(payload.get("received_at"))


def inbound_message(
    parsed: ParsedEmail,
    classification: Classification,
    payload: dict[str, Any],
    provider_id: str,
) -> InboundMessage:
    rcpt_tos = [str(r) for r in payload.get("rcpt_tos") or []]
    sender = parsed.from_address or parsed.reply_to or str(payload.get("envelope_from") or "")
    meta: dict[str, Any] = {
        "subject": parsed.subject,
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references,
        "from_name": parsed.from_name,
        "reply_to": parsed.reply_to,
        "to": parsed.to,
        "date": parsed.date.isoformat() if parsed.date else None,
        "envelope_from": str(payload.get("envelope_from") or ""),
        "rcpt_tos": rcpt_tos,
        "peer": str(payload.get("peer") or ""),
        "classification": classification.kind,
        "classification_reason": classification.reason,
        "quoted": parsed.quoted[:MAX_QUOTED_CHARS],
        "signature": parsed.signature,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in parsed.attachments
        ],
        "defects": parsed.defects,
    }
    return InboundMessage(
        channel=CHANNEL,
        provider_id=provider_id,
        sender=sender[:320],
        recipient=(rcpt_tos[0] if rcpt_tos else (parsed.to[0] if parsed.to else ""))[:320],
        body=screened_text(parsed),
        received_at=_received_at(payload),
        meta=meta,
    )


def find_thread(runtime: Runtime, parsed: ParsedEmail) -> tuple[Referral, str] | None:
    """The referral this message continues, and how it was recognised."""
    ids = [i for i in [parsed.in_reply_to, *reversed(parsed.references)] if i]
    referral = _referral_for(runtime, ids)
    if referral is not None:
        return referral, "headers"
    reference = find_reference(parsed.subject, parsed.text)
    if reference:
        referral = runtime.store.get_referral(reference)
        if referral is not None:
            return referral, "reference"
    return None


def _referral_for(runtime: Runtime, ids: list[str]) -> Referral | None:
    found = runtime.store.referral_id_for_message_ids(CHANNEL, ids)
    return runtime.store.get_referral_by_id(found) if found is not None else None


def _bounced_message_ids(parsed: ParsedEmail) -> list[str]:
    """Message-IDs of the returned message inside a bounce (message/rfc822, rfc822-headers)."""
    found: list[str] = []
    for item in parsed.attachments:
        if "rfc822" in item.content_type:
            matches = _HEADER_MESSAGE_ID.findall(item.data[:65536])
            found.extend(m.decode("ascii", "replace") for m in matches)
    return found


def record_event(
    runtime: Runtime,
    parsed: ParsedEmail,
    classification: Classification,
    payload: dict[str, Any],
    provider_id: str,
) -> dict[str, Any]:
    """An out-of-office reply or a bounce: remember it (and what it answers), nothing more."""
    ids = [i for i in [parsed.in_reply_to, *reversed(parsed.references)] if i]
    if classification.kind == "bounce":
        returned = _bounced_message_ids(parsed)
        ids = returned + ids
        if returned:
            runtime.store.mark_outbound_bounced(CHANNEL, returned, classification.reason)
    referral = _referral_for(runtime, ids)
    rcpt_tos = [str(r) for r in payload.get("rcpt_tos") or []]
    recorded = runtime.store.mail_events.record(
        provider_id=provider_id,
        kind=classification.kind,
        sender=parsed.from_address or str(payload.get("envelope_from") or ""),
        recipient=rcpt_tos[0] if rcpt_tos else "",
        subject=parsed.subject,
        reason=classification.reason,
        detail=parsed.text,
        received_at=_received_at(payload),
        referral_id=referral.id if referral else None,
    )
    log.info(
        "email %s recorded as %s%s%s",
        provider_id[:64],
        classification.kind,
        f" for referral {referral.reference}" if referral else "",
        "" if recorded else " (already recorded)",
    )
    return {
        "kind": classification.kind,
        "reference": referral.reference if referral else None,
        "created": False,
        "recorded": recorded,
        "acknowledgement": "skipped: " + classification.kind,
    }


def add_to_referral(
    runtime: Runtime, referral: Referral, message: InboundMessage, threaded_by: str
) -> tuple[Referral, bool, bool]:
    """Add a reply to its referral and screen it again; returns (referral, added, safe)."""
    screening = screen(message.body, CHANNEL)
    extraction = extract(message.body, CHANNEL, message.sender)
    safe = screening.safe_to_contact and extraction.fields.get("safe_to_contact", True) is not False
    meta = {**message.meta, "threaded_by": threaded_by, "screening": screening.to_dict()}
    stored = dataclasses.replace(message, meta=meta)
    store = runtime.store
    assert referral.id is not None
    try:
        store.add_message(referral.id, stored)
    except DuplicateMessage:
        return referral, False, safe
    before = referral.urgency
    escalated = store.raise_urgency(referral.id, screening.urgency)
    changes: dict[str, Any] = {}
    safeguarding = sorted(set(referral.safeguarding) | set(screening.safeguarding))
    if safeguarding != sorted(referral.safeguarding):
        changes["safeguarding"] = safeguarding
    if referral.safe_to_contact and not safe:
        changes["safe_to_contact"] = False
    if changes:
        store.update_referral(referral.id, **changes)
    store.audit(
        pipeline.SYSTEM_ACTOR,
        "referral.message_added",
        referral_id=referral.id,
        detail={"channel": CHANNEL, "threaded_by": threaded_by, "urgency": screening.urgency},
    )
    if escalated:
        store.audit(
            pipeline.SYSTEM_ACTOR,
            "referral.escalated",
            referral_id=referral.id,
            detail={"from": before, "to": screening.urgency, "by": "email reply"},
        )
    updated = store.get_referral_by_id(referral.id)
    assert updated is not None
    return updated, True, safe


def acknowledge(
    runtime: Runtime,
    referral: Referral,
    parsed: ParsedEmail,
    classification: Classification,
    message: InboundMessage,
    *,
    safe_to_contact: bool,
) -> str:
    decision = email_ack.plan_email_ack(
        runtime.settings, referral, parsed, classification, safe_to_contact=safe_to_contact
    )
    return pipeline.deliver_acknowledgement(runtime, referral, message, decision)


def _is_first_message(runtime: Runtime, referral: Referral, provider_id: str) -> bool:
    stored = runtime.store.messages_for(referral.id or 0)
    return not stored or stored[0]["provider_id"] == provider_id


def _raw_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    raise ValueError("email job without raw message bytes")


def process_email(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Handle one queued email; safe to run again for the same message."""
    raw = _raw_bytes(payload.get("raw"))
    parsed = parse_email(raw)
    classification = classify(parsed, str(payload.get("envelope_from") or ""))
    provider_id = provider_id_for(parsed, raw)
    if not classification.creates_referral:
        return record_event(runtime, parsed, classification, payload, provider_id)

    message = inbound_message(parsed, classification, payload, provider_id)
    store = runtime.store
    existing = store.find_referral_for_message(CHANNEL, provider_id)
    thread = None if existing else find_thread(runtime, parsed)
    threaded_by: str | None = None
    created = False
    if thread is not None:
        referral, threaded_by = thread
        referral, _added, safe = add_to_referral(runtime, referral, message, threaded_by)
        forwarding.schedule(runtime, referral, "updated")  # deduped on the referral's content
    elif existing is not None and not _is_first_message(runtime, existing, provider_id):
        referral, safe = existing, existing.safe_to_contact  # a re-run of a reply
        forwarding.schedule(runtime, referral, "updated")
    else:
        referral, created = pipeline.store_referral(runtime, message)
        safe = referral.safe_to_contact
        if referral.forward_status != "delivered":
            forwarding.schedule(runtime, referral, "created")
    alerts.alert_emergency(runtime, referral)  # once per contact; a reply may have escalated it
    assert referral.id is not None
    row_id = store.message_row_id(CHANNEL, provider_id)
    saved = 0
    if row_id is not None and parsed.attachments:
        saved = store.attachments.save(referral.id, row_id, parsed.attachments)
    ack = acknowledge(runtime, referral, parsed, classification, message, safe_to_contact=safe)
    if created:
        outcome = "created"
    else:
        outcome = f"continued ({threaded_by})" if threaded_by else "already stored"
    log.info(
        "email %s: referral %s %s, urgency %s, %d attachment(s) kept, acknowledgement %s",
        classification.kind,
        referral.reference,
        outcome,
        referral.urgency,
        saved,
        ack,
    )
    return {
        "kind": classification.kind,
        "reference": referral.reference,
        "created": created,
        "threaded_by": threaded_by,
        "acknowledgement": ack,
    }
