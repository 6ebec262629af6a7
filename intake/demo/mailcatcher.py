"""An outgoing-mail catcher: the relay intake sends through in the demo (`SMTP_RELAY_URL`).

A real SMTP server (aiosmtpd) that accepts everything, keeps each message in memory and writes it
to a folder as an `.eml` file, so what intake would have emailed can be read in any mail program.
"""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Caught:
    recipients: tuple[str, ...]
    raw: bytes
    path: Path

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain", "html"))
        return str(body.get_content()) if body is not None else ""


@dataclass
class MailCatcher:
    folder: Path
    caught: list[Caught] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self.lock:
            path = self.folder / f"{len(self.caught) + 1:03d}.eml"
            path.write_bytes(raw)
            self.caught.append(Caught(tuple(envelope.rcpt_tos), raw, path))
        return "250 2.0.0 Ok: caught"

    def sent_to(self, address: str) -> list[Caught]:
        with self.lock:
            return [c for c in self.caught if address.lower() in (r.lower() for r in c.recipients)]

    @property
    def url(self) -> str:
        assert self.controller is not None
        return f"smtp://{self.controller.hostname}:{self.controller.port}"

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


def start(folder: Path, host: str = "127.0.0.1", port: int = 0) -> MailCatcher:
    """Serve on `host:port` (0: a free port); messages are also written under `folder`."""
    import socket

    folder.mkdir(parents=True, exist_ok=True)
    if not port:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
    catcher = MailCatcher(folder)
    catcher.controller = Controller(catcher, hostname=host, port=port)
    catcher.controller.start()
    return catcher
