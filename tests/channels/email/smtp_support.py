"""Real SMTP servers for the email tests: intake's own, and a relay that records what it gets.

The relay is a second aiosmtpd server standing in for the organisation's outgoing mail relay
(`SMTP_RELAY_URL`): it keeps every message it accepts and can be told to refuse the next ones.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import smtplib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email.server import make_controller
from intake.config import Settings
from intake.runtime import Runtime
from tests.support.servers import free_port

INTAKE_ADDRESS = "referrals@advocacy.example.org"
INTAKE_FROM = "Northgate Advocacy <referrals@advocacy.example.org>"


@dataclass
class Relayed:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingRelay:
    """aiosmtpd handler that records accepted mail; `refuse_next` answers RCPT with a code."""

    received: list[Relayed] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        with self.lock:
            refusal = self.refusals.pop(0) if self.refusals else None
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self.lock:
            self.received.append(Relayed(str(envelope.mail_from), list(envelope.rcpt_tos), raw))
        return "250 2.0.0 Ok: queued"

    def refuse_next(self, reply: str = "550 5.1.1 No such user here", times: int = 1) -> None:
        with self.lock:
            self.refusals.extend([reply] * times)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@contextmanager
def recording_relay() -> Iterator[RecordingRelay]:
    relay = RecordingRelay(port=free_port())
    controller = Controller(relay, hostname="127.0.0.1", port=relay.port)
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()


def email_settings(runtime: Runtime, relay_url: str, **changes: object) -> Settings:
    """The runtime's settings with the SMTP server on a free port and the relay configured."""
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": free_port(),
        "email_addresses": (INTAKE_ADDRESS,),
        "email_from": INTAKE_FROM,
        "smtp_relay_url": relay_url,
        "org_name": "Northgate Advocacy",
    }
    values.update(changes)
    return runtime.settings.with_(**values)


@contextmanager
def intake_smtp(runtime: Runtime, settings: Settings) -> Iterator[Settings]:
    """intake's SMTP server on a real socket; the runtime (and so the worker) uses `settings`."""
    runtime.settings = settings
    controller = make_controller(runtime, settings)
    controller.start()
    try:
        yield settings
    finally:
        controller.stop()


def deliver(
    settings: Settings,
    raw: bytes | EmailMessage,
    *,
    mail_from: str | None = None,
    rcpt_tos: list[str] | None = None,
) -> dict[str, tuple[int, bytes]]:
    """Speak SMTP to intake's server, as a sending mail server would.

    The envelope sender is `mail_from`; by default, as a person's own mail server sends it, the
    From address of a composed message (raw bytes: `sender@example.org`).
    """
    data = raw.as_bytes(policy=email.policy.SMTP) if isinstance(raw, EmailMessage) else raw
    if mail_from is None:
        author = str(raw["From"] or "") if isinstance(raw, EmailMessage) else ""
        mail_from = email.utils.parseaddr(author)[1] or "sender@example.org"
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as client:
        return client.sendmail(mail_from, rcpt_tos or [INTAKE_ADDRESS], data)
