"""The SMS channel as the pipeline sees it (`intake.channel`): Twilio Programmable Messaging.

- `accept`: the worker side of `POST /twilio/sms`; one text per number at a time.
- `intercept`: STOP, START and HELP (`conversation.keyword`).
- `thread`, `joined`: the sender's open conversation (`conversation.thread`).
- `respond`: the acknowledgement with its first question, or the next question.
- `send`: Twilio's Messages API; its errors mapped by `channels.twilio.failure` (21610 records
  the number as opted out here too).

WhatsApp (and Twilio's other messaging channels) arrive on the same webhook with a prefixed
address, `From=whatsapp:+447700900458`. The prefixed address is the sender: a reply goes to it,
from the prefixed number the person wrote to (`To`), because Twilio refuses a reply whose From and
To are on different channels (error 21910). The number inside the prefix is the person's phone
for extraction and merging (`intake.extraction`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from channels.sms import conversation, media, optout, webhook
from channels.twilio import failure, rest_client
from intake.channel import BaseChannel, Handled, Outcome, Thread
from intake.failures import OptedOut
from intake.models import InboundMessage, Referral
from intake.runtime import Runtime

# A phone number an on-call contact may be given as: E.164, or a UK number with spaces.
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{6,}$")
# Twilio's channel address: `whatsapp:+447700900458` (also `messenger:`, `rcs:` ...).
_CHANNEL_ADDRESS = re.compile(r"^(?P<prefix>[a-z][a-z0-9-]{1,19}):(?P<address>\S+)$")


def channel_prefix(address: str) -> str | None:
    """`whatsapp` for `whatsapp:+44...`; None for a plain number (pure)."""
    match = _CHANNEL_ADDRESS.match(address.strip())
    return match.group("prefix") if match else None


class SmsChannel(BaseChannel):
    name = "sms"
    reply_channel = "sms"
    routes = tuple(webhook.routes)

    @contextmanager
    def accept(
        self, runtime: Runtime, payload: Mapping[str, Any]
    ) -> Iterator[InboundMessage | Handled]:
        message = media.with_media(runtime, InboundMessage.from_payload(dict(payload)))
        with conversation.sender_lock(runtime, message.sender):
            yield message

    def intercept(self, runtime: Runtime, message: InboundMessage) -> Handled | None:
        return conversation.keyword(runtime, message)

    def thread(self, runtime: Runtime, message: InboundMessage) -> Thread | None:
        return conversation.thread(runtime, message)

    def identity(self, runtime: Runtime, message: InboundMessage) -> str | None:
        # The From number of a webhook whose Twilio signature was checked at the door.
        return message.sender or None

    def joined(
        self, runtime: Runtime, referral: Referral, message: InboundMessage, thread: Thread
    ) -> None:
        conversation.joined(runtime, referral, message, thread)

    def respond(self, runtime: Runtime, outcome: Outcome) -> str:
        return conversation.respond(runtime, outcome)

    def reaches(self, address: str) -> bool:
        return bool(_PHONE.match(address.strip()))

    def send(self, runtime: Runtime, to: str, body: str) -> str:
        settings = runtime.settings
        try:
            sent = rest_client(settings).messages.create(
                to=to, from_=self.sender_for(runtime, to), body=body
            )
        except Exception as exc:
            mapped = failure(exc)
            if mapped is None:
                raise  # not Twilio's answer: a bug, for the job's retry and the log
            if isinstance(mapped, OptedOut):
                optout.note_provider_opt_out(runtime.store, to)
            raise mapped from exc
        return str(sent.sid)

    def sender_for(self, runtime: Runtime, to: str) -> str:
        """Our address for a message to `to`: `TWILIO_FROM_NUMBER` for a text; for a prefixed
        address, the same channel's address the person last wrote to (else that prefix on
        `TWILIO_FROM_NUMBER`), as Twilio requires (error 21910)."""
        number = runtime.settings.twilio_from_number
        prefix = channel_prefix(to)
        if prefix is None:
            return number
        last = runtime.store.last_recipient(self.name, to)
        if last and channel_prefix(last) == prefix:
            return last
        return f"{prefix}:{number}"

    def suppressed(self, runtime: Runtime, to: str) -> str | None:
        return "opted out" if optout.is_opted_out(runtime.store, to) else None

    def reply_address(self, referral: Referral, messages: Any) -> str:
        sender = referral.sender
        return sender if sender.startswith("+") or channel_prefix(sender) else ""
