"""The email channel as the pipeline sees it (`intake.channel`).

The door is the SMTP server (`server.py`, its own process: `intake smtp`); the worker side parses
and classifies (`receive.py`); acknowledgements, replies and notices are composed in `ack.py` and
sent through the organisation's relay (`intake.mailer`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from channels.email import ack, receive
from intake import acknowledge
from intake.channel import BaseChannel, Handled, Outcome, Thread
from intake.models import InboundMessage, Referral
from intake.runtime import Runtime


class EmailChannel(BaseChannel):
    name = "email"
    reply_channel = "email"

    @contextmanager
    def accept(
        self, runtime: Runtime, payload: Mapping[str, Any]
    ) -> Iterator[InboundMessage | Handled]:
        yield receive.accept(runtime, dict(payload))

    def unprocessed(self, runtime: Runtime, payload: Mapping[str, Any]) -> InboundMessage | None:
        return receive.unprocessed(dict(payload))

    def thread(self, runtime: Runtime, message: InboundMessage) -> Thread | None:
        return receive.thread(runtime, message)

    def identity(self, runtime: Runtime, message: InboundMessage) -> str | None:
        return receive.identity(message)

    def sources(self, runtime: Runtime, message: InboundMessage) -> tuple[str, ...]:
        return receive.sources(message)

    def respond(self, runtime: Runtime, outcome: Outcome) -> str:
        if outcome.message.pending and outcome.referral.urgency != "emergency":
            # Its files are being read (intake.documents): the revision that follows answers.
            return "skipped: waiting for the attachments to be read"
        # One acknowledgement per referral and address (its dedupe key): a reply in the thread
        # gets none, a new person writing about the same referral gets one.
        decision = ack.plan(runtime.settings, outcome.referral, outcome.message)
        return acknowledge.deliver(runtime, outcome.referral, outcome.message, decision)

    def reaches(self, address: str) -> bool:
        return ack.is_address(address)

    def send(self, runtime: Runtime, to: str, body: str) -> str:
        return ack.send_composed(runtime.settings, to, body)

    def compose(
        self,
        runtime: Runtime,
        to: str,
        text: str,
        *,
        subject: str = "",
        referral: Referral | None = None,
        kind: str = "reply",
    ) -> str:
        if referral is None or kind == "alert":
            return ack.compose_notice(runtime.settings, to, subject, text)
        assert referral.id is not None
        messages = runtime.store.messages_for(referral.id)
        return ack.compose_reply(runtime.settings, referral, to, text, messages)

    def reply_address(self, referral: Referral, messages: Iterable[Mapping[str, Any]]) -> str:
        last = ""
        for stored in messages:
            if stored["channel"] == self.name:
                last = ack.reply_address(stored.get("meta") or {}, stored["sender"])
        found = last or referral.sender
        return found if ack.is_address(found) else ""
