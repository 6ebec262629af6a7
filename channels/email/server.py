"""The SMTP server (aiosmtpd) that takes referral emails.

Like the SMS webhook it only checks and queues: a recipient we do not serve gets `550` at RCPT, a
message over the size limit gets `552` from aiosmtpd itself, and `250` is answered only once the
raw message is on the queue. If Redis cannot take it the answer is `451`, a temporary failure, so
the sending server keeps the message and tries again. Parsing happens in the worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from intake.config import Settings
from intake.queue import QueueUnavailable, enqueue, safe_job_id
from intake.runtime import Runtime

log = logging.getLogger(__name__)

PROCESS_EMAIL = "intake.tasks.process_email"
TEMPFAIL = "451 4.3.0 Temporary failure, please try again later"


class ReferralMailHandler:
    """aiosmtpd handler: accept mail for the referral addresses and queue it, raw."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.addresses = {a.lower() for a in runtime.settings.email_addresses}

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.addresses and address.lower() not in self.addresses:
            return "550 5.1.1 Recipient not accepted here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw: bytes = envelope.original_content or b""
        payload: dict[str, Any] = {
            "raw": raw,
            "envelope_from": envelope.mail_from or "",
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": str(session.peer[0]) if session.peer else "",
        }
        digest = hashlib.sha256(raw).hexdigest()[:16]
        try:
            await asyncio.to_thread(
                enqueue,
                self.runtime.settings,
                self.runtime.redis,
                PROCESS_EMAIL,
                payload,
                priority="default",
                job_id=safe_job_id(self.runtime.settings.queue_prefix, "email", digest, secrets.token_hex(4)),
                description=f"inbound email {digest}",
            )
        except QueueUnavailable:
            log.error("queue unavailable: deferred an email with 451")
            return TEMPFAIL
        log.info("queued email %s (%d bytes)", digest, len(raw))
        return "250 2.0.0 Message accepted for delivery"

    async def handle_exception(self, error: Exception) -> str:
        # Without this aiosmtpd answers a permanent 500 and the sender gives up: defer instead.
        log.exception("SMTP handler error", exc_info=error)
        return TEMPFAIL


def make_controller(runtime: Runtime, settings: Settings | None = None) -> Controller:
    settings = settings or runtime.settings
    return Controller(
        ReferralMailHandler(runtime),
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        data_size_limit=settings.smtp_data_size_limit,
        enable_SMTPUTF8=True,
        ident="intake ESMTP",
    )
