"""The SMTP server (aiosmtpd) that takes referral emails.

Like the SMS webhook it only checks and queues: a recipient we do not serve gets `550` at RCPT, a
message over the size limit gets `552` from aiosmtpd itself, and `250` is answered only once the
raw message is on the queue. If Redis cannot take it the answer is `451`, a temporary failure, so
the sending server keeps the message and tries again. Parsing happens in the worker; the server
only takes a quick look at the plain text to put urgent mail on the `high` queue.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import logging
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from intake.config import Settings
from intake.models import utcnow
from intake.priority import priority_for
from intake.queue import QueueUnavailable, enqueue_inbound
from intake.runtime import Runtime

log = logging.getLogger(__name__)

TEMPFAIL = "451 4.3.0 Temporary failure, please try again later"
REFUSED_RCPT = "550 5.1.1 Recipient not accepted here"
ACCEPTED = "250 2.0.0 Message accepted for delivery"
# The door's screen reads the subject and this much of the plain text: enough for what a sender
# says first ("he has taken an overdose"), and a bound on the CPU spent before the 250 (the screen
# costs ~5 µs a character; 20,000 characters were ~100 ms a message). The worker screens all of
# it, and that screen decides the urgency and the alert; this one only orders the queue.
PRIORITY_SCAN_CHARS = 2_000
# RFC 5321 allows 1000 characters a line; mail clients and scripts that talk SMTP directly send
# longer ones, and refusing them would be a permanent `500`. The size limit still bounds the total.
MAX_LINE_BYTES = 1024 * 1024


def normalise_address(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


def quick_priority(raw: bytes) -> str:
    """`high` when a first look at the subject and plain text finds urgency; never raises.

    The worker's full parse (HTML, attachments) is what is stored; this only orders the queue.
    """
    try:
        message = email.message_from_bytes(raw[: 2 * 1024 * 1024], policy=email.policy.default)
        text = str(message.get("Subject") or "")
        if isinstance(message, EmailMessage):
            body = message.get_body(preferencelist=("plain",))
            if body is not None:
                content = body.get_content()
                if isinstance(content, str):
                    text += "\n" + content[:PRIORITY_SCAN_CHARS]
        return priority_for(text, "email")
    except Exception as exc:  # ordering is a nicety; accepting the message is not
        log.warning("quick priority failed (%s); queued as default", type(exc).__name__)
        return "default"


class ReferralMailHandler:
    """aiosmtpd handler: accept mail for the referral addresses and queue it, raw."""

    def __init__(self, runtime: Runtime, settings: Settings | None = None) -> None:
        self.runtime = runtime
        self.settings = settings or runtime.settings
        self.addresses = {normalise_address(a) for a in self.settings.email_addresses}

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.addresses and normalise_address(address) not in self.addresses:
            return REFUSED_RCPT
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        payload: dict[str, Any] = {
            "raw": raw,
            "envelope_from": envelope.mail_from or "",
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": str(session.peer[0]) if session.peer else "",
            "received_at": utcnow().isoformat(),
        }
        digest = hashlib.sha256(raw).hexdigest()[:16]

        def queue_it() -> str:
            # One hop to a thread for both (the screen is CPU, the enqueue is Redis round trips)
            priority = quick_priority(raw)
            enqueue_inbound(
                self.settings, self.runtime.redis, "email", payload, priority=priority, key=digest
            )
            return priority

        try:
            priority = await asyncio.to_thread(queue_it)
        except QueueUnavailable:
            log.error("queue unavailable: deferred an email with 451")
            return TEMPFAIL
        log.info("queued email %s (%d bytes) on %s", digest, len(raw), priority)
        return ACCEPTED

    async def handle_exception(self, error: Exception) -> str:
        # Without this aiosmtpd answers a permanent 500 and the sender gives up: defer instead.
        log.error("SMTP handler error: %s", type(error).__name__, exc_info=error)
        return TEMPFAIL


class LenientSMTP(SMTP):
    """aiosmtpd's SMTP with long lines accepted (see `MAX_LINE_BYTES`)."""

    line_length_limit = MAX_LINE_BYTES


class IntakeController(Controller):
    def factory(self) -> SMTP:
        return LenientSMTP(self.handler, **self.SMTP_kwargs)


def quiet_aiosmtpd_log() -> None:
    """aiosmtpd logs every SMTP command line at INFO (`MAIL FROM:<address>`, `RCPT TO:...`) on
    its `mail.log` logger: senders' addresses are personal data, so only its warnings are kept."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def make_controller(runtime: Runtime, settings: Settings | None = None) -> Controller:
    settings = settings or runtime.settings
    quiet_aiosmtpd_log()
    return IntakeController(
        ReferralMailHandler(runtime, settings),
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        data_size_limit=settings.smtp_data_size_limit,
        enable_SMTPUTF8=True,
        ident="intake ESMTP",
    )
