"""The worker's side of the email channel: raw mail to an `InboundMessage`, or a record.

The SMTP server queued the raw bytes; here they are parsed and classified:

- an out-of-office reply or a bounce is recorded in `mail_events` (tied to the referral it answers
  when it names one of our acknowledgements) and goes no further: no referral, no acknowledgement;
- anything else becomes an `InboundMessage` for the one pipeline, with whether its sender can be
  trusted (`trust.assess`: the From address matches the envelope sender, or an upstream MTA we
  trust vouches for it). `thread` finds the referral a reply names (our acknowledgement's or an
  earlier message's Message-ID in In-Reply-To or References); whether it may join is
  `intake.merge`'s one policy, and the absorb policy does the rest.

Attachments travel with the message and are stored with it; their extracted text is part of what
screening and extraction read. The Message-ID (a hash of the raw bytes when there is none) is the
message's unique provider id, so a redelivery or a re-run changes nothing.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import logging
import re
from datetime import datetime
from typing import Any

from channels.email import trust
from channels.email.autoreply import SPAM_REVIEW, Classification, classify
from channels.email.parse import (
    ParsedEmail,
    _addresses,
    _msg_ids,
    _raw_header,
    _text_header,
    parse_email,
)
from intake.channel import OUR_MESSAGE, THEIR_MESSAGE, Handled, Thread
from intake.models import Attachment, InboundMessage, Referral, received_at_from
from intake.reference import find_reference
from intake.runtime import Runtime

log = logging.getLogger(__name__)

CHANNEL = "email"
CLIENT_IP = "client_ip"  # meta: the sending machine's address (`trust.client_ip`)
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
    trusted: trust.Trust | None = None,
) -> InboundMessage:
    trusted = trusted or trust.Trust(False, "not assessed")
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
        "may_acknowledge": classification.may_acknowledge,
        "quoted": parsed.quoted[:MAX_QUOTED_CHARS],
        "signature": parsed.signature,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in parsed.attachments
        ],
        "defects": parsed.defects,
        trust.VERIFIED: trusted.verified,
        trust.REASON: trusted.reason,
    }
    return InboundMessage(
        channel=CHANNEL,
        provider_id=provider_id,
        sender=sender[:320],
        recipient=(rcpt_tos[0] if rcpt_tos else (parsed.to[0] if parsed.to else ""))[:320],
        body=screened_text(parsed),
        received_at=_received_at(payload),
        meta=meta,
        attachments=tuple(parsed.attachments),
        review_reason=SPAM_REVIEW if classification.kind == "spam" else None,
        # Files whose text a parser must read (in a sandboxed job): acknowledged and forwarded
        # once they are read, so what a referral form says decides the reply (999 advice).
        pending=any(item.unread for item in parsed.attachments),
    )


def quoted_reference(subject: str, text: str) -> str | None:
    """The first intake reference (`REF-XXXXXX`) in the subject, else in the text."""
    return find_reference(subject) or find_reference(text)


def thread(runtime: Runtime, message: InboundMessage) -> Thread | None:
    """The referral this message replies to, by In-Reply-To and References, and whether the
    message it names is one we sent (only its recipient saw its id) or one someone sent us.

    A quoted reference is not the channel's evidence: `intake.merge.place` reads it for every
    channel, under the one merge policy.
    """
    meta = message.meta
    ids = [i for i in [meta.get("in_reply_to"), *reversed(meta.get("references") or [])] if i]
    found = runtime.store.message_for_ids(CHANNEL, [str(i) for i in ids])
    if found is None:
        return None
    referral = runtime.store.get_referral_by_id(found[0])
    if referral is None:
        return None
    return Thread(referral, "headers", evidence=OUR_MESSAGE if found[1] else THEIR_MESSAGE)


def identity(message: InboundMessage) -> str | None:
    """The From address when the mail can be trusted to come from it (`trust.assess`)."""
    return message.sender if message.meta.get(trust.VERIFIED) else None


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
) -> Handled:
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
    return Handled(
        f"{classification.kind} {'recorded' if recorded else 'already recorded'}: not answered",
        referral.reference if referral else None,
    )


def _raw_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    raise ValueError("email job without raw message bytes")


def accept(runtime: Runtime, payload: dict[str, Any]) -> InboundMessage | Handled:
    """Parse and classify one queued email: the message for the pipeline, or a recorded event."""
    raw = _raw_bytes(payload.get("raw"))
    parsed = parse_email(raw)
    classification = classify(parsed, str(payload.get("envelope_from") or ""))
    provider_id = provider_id_for(parsed, raw)
    if not classification.creates_referral:
        return record_event(runtime, parsed, classification, payload, provider_id)
    settings = runtime.settings
    headers = trust.headers_of(raw)
    peer = str(payload.get("peer") or "")
    trusted = trust.assess(
        headers,
        envelope_from=str(payload.get("envelope_from") or ""),
        peer=peer,
        relay_hosts=settings.email_relay_hosts,
        authserv_id=settings.email_authserv_id,
    )
    message = inbound_message(parsed, classification, payload, provider_id, trusted)
    message.meta[CLIENT_IP] = trust.client_ip(headers, peer, settings.email_relay_hosts)
    return message


def sources(message: InboundMessage) -> tuple[str, ...]:
    """Where the mail came from, for per-source limits: the sending machine's address (when
    known) and the domain of the address it claims to be from."""
    meta = message.meta
    claimed = str(message.sender or meta.get("envelope_from") or "")
    found = []
    if meta.get(CLIENT_IP):
        found.append(f"email-ip:{meta[CLIENT_IP]}")
    if "@" in claimed:
        found.append(f"email-domain:{claimed.rpartition('@')[2].strip().lower()}")
    return tuple(found)


def unprocessed(payload: dict[str, Any]) -> InboundMessage:
    """An email whose job could not finish, kept as it came: its headers only are read (the
    same Message-ID, or hash, as `accept` would use, so a redelivery is still recognised), and
    the original is attached whole for a person to open."""
    raw = _raw_bytes(payload.get("raw"))
    headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    ids = _msg_ids(_raw_header(headers, "Message-ID"))
    provider_id = ids[0][:255] if ids else "sha256:" + hashlib.sha256(raw).hexdigest()
    senders = _addresses(headers, "From") or _addresses(headers, "Sender")
    subject = _text_header(headers, "Subject") or ""
    rcpt_tos = [str(r) for r in payload.get("rcpt_tos") or []]
    sender = senders[0][1] if senders else str(payload.get("envelope_from") or "")
    note = "[intake could not read this email in time: the original is attached as message.eml]"
    return InboundMessage(
        channel=CHANNEL,
        provider_id=provider_id,
        sender=sender[:320],
        recipient=(rcpt_tos[0] if rcpt_tos else "")[:320],
        body="\n\n".join(part for part in (subject.strip(), note) if part),
        received_at=_received_at(payload),
        meta={
            "subject": subject,
            "message_id": ids[0] if ids else None,
            "envelope_from": str(payload.get("envelope_from") or ""),
            "rcpt_tos": rcpt_tos,
            "classification": "unprocessed",
            "may_acknowledge": False,
        },
        attachments=(Attachment("message.eml", "message/rfc822", len(raw), raw),),
    )
