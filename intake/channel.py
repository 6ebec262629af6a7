"""The port every channel implements, and the registry the core finds them in.

The core never imports `channels/`: the composition roots (`intake/cli.py`, `worker.py`,
`intake/tasks.py`) build a `Channels` registry from `channels.registry()` and hand it to the
`Runtime`. The pipeline then talks to a channel only through this port, the way aiosmtpd's server
calls a handler's `handle_*` methods and Courier's core calls a channel's handler:

- `accept(runtime, payload)`: the worker side of the door. Turns what the door queued (a Twilio
  form, raw mail, a call event) into one `InboundMessage`, or says it `Handled` it (an
  out-of-office reply recorded, a call that is still ringing). A context manager, so a channel can
  hold a lock for the whole of the message's processing (one text per number at a time, one event
  per call at a time).
- `intercept(runtime, message)`: a message that is not part of a referral (SMS STOP/START/HELP).
- `unprocessed(runtime, payload)`: the message as it came, when its job could not finish (the
  pipeline stores it unscreened and flagged: `pipeline.store_unprocessed`).
- `thread(runtime, message)`: the referral this message continues, by the channel's own evidence
  (email headers, an open SMS conversation), with any answer it gives to a question we asked.
  Whether the message may really join it is `intake.merge`'s one policy, not the channel's.
- `identity(runtime, message)`: the sender's own identity as the channel can vouch for it (the
  From number of a signed webhook, the address of mail we can trust), or None.
- `sources(runtime, message)`: where the message came from, for the limits on what one source can
  make intake do (acknowledgements, on-call alerts).
- `joined(runtime, referral, message, thread)`: after a message joined by `thread`.
- `respond(runtime, outcome)`: what goes back to the sender (the acknowledgement, or a question).
- `send(runtime, to, body)`: deliver one outbound message; map the provider's errors onto
  `intake.failures` (`Rejected`, `OptedOut`, `Unreachable`, `Uncertain`).
- `suppressed(runtime, to)`: why nothing may be sent to `to` now (an opt-out), or None.
- `compose(runtime, to, text, ...)`: an advocate's reply or a staff notice as `send` takes it
  (an email gets its headers and threading, a text stays text).

`BaseChannel` gives every optional hook a default that does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.routing import BaseRoute

from intake.models import InboundMessage, Referral

if TYPE_CHECKING:  # for the hooks' signatures only: intake.runtime imports this module
    from intake.runtime import Runtime


@dataclass(frozen=True)
class Handled:
    """A channel finished with something itself: no referral is made or changed by the pipeline.

    `reference` is the referral it concerned, when there is one; `outcome` says what happened
    (for the job's result and the log, never message text).
    """

    outcome: str
    reference: str | None = None


# What a channel's `Thread` proves (see `intake.merge.may_join`).
SENDER, OUR_MESSAGE, THEIR_MESSAGE = "sender", "our_message", "their_message"


@dataclass(frozen=True)
class Thread:
    """The referral a message continues, by a channel's own evidence.

    `how` names the evidence ("headers", "conversation"); `evidence` says what it proves
    (`SENDER`: the channel matched the sender's own identity, an SMS conversation with this
    number; `OUR_MESSAGE`: a reply to a message we sent, whose id only its recipient saw;
    `THEIR_MESSAGE`: a reply naming an earlier message someone sent us). `answer` holds fields the
    message gives in answer to a question we asked, which replace what was guessed before, and
    `answered` says where they came from (kept as their provenance).
    """

    referral: Referral
    how: str
    evidence: str = "sender"
    answer: dict[str, Any] = field(default_factory=dict)
    answered: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What the pipeline did with one message, handed to `respond` and returned by the job.

    `created`: this message made the referral. `joined`: it was added to an earlier referral (or,
    for a revised message such as a voicemail transcript, changed it). `first_run`: this is the
    first time the message was processed (a re-run of the same job sees False). `raised_to`: the
    urgency this message raised the referral to, if it did. `alert`: why on-call must hear about
    this message (`escalated`, `screened`; kept with the stored message, so a re-run knows too).
    """

    referral: Referral
    message: InboundMessage
    created: bool
    joined: bool
    first_run: bool
    how: str | None = None
    raised_to: str | None = None
    thread: Thread | None = None
    alert: str | None = None


class BaseChannel:
    """Defaults for every optional hook; a channel overrides what it needs."""

    name: ClassVar[str]
    # The channel a reply to this channel's senders goes out on (a voicemail is answered by text).
    reply_channel: ClassVar[str]
    routes: Sequence[BaseRoute] = ()

    @contextmanager
    def accept(
        self, runtime: Runtime, payload: Mapping[str, Any]
    ) -> Iterator[InboundMessage | Handled]:
        yield InboundMessage.from_payload(dict(payload))

    def intercept(self, runtime: Runtime, message: InboundMessage) -> Handled | None:
        return None

    def unprocessed(self, runtime: Runtime, payload: Mapping[str, Any]) -> InboundMessage | None:
        """The message in `payload` as it came, for a job that could not finish (it timed out or
        failed for good): built without the work that may have failed (no parsing beyond the
        headers, no fetching). None when there is nothing to keep."""
        try:
            return InboundMessage.from_payload(dict(payload))
        except (KeyError, TypeError, ValueError):
            return None

    def thread(self, runtime: Runtime, message: InboundMessage) -> Thread | None:
        return None

    def joined(
        self, runtime: Runtime, referral: Referral, message: InboundMessage, thread: Thread
    ) -> None:
        return None

    def identity(self, runtime: Runtime, message: InboundMessage) -> str | None:
        """The sender's own address as this channel can vouch for it, or None (it cannot)."""
        return None

    def sources(self, runtime: Runtime, message: InboundMessage) -> tuple[str, ...]:
        """Keys for where `message` came from (limits per source); by default its sender."""
        sender = message.sender.strip().lower()
        return (f"{self.name}:{sender}",) if sender else ()

    def respond(self, runtime: Runtime, outcome: Outcome) -> str:
        return f"skipped: no acknowledgement on {self.name}"

    def reaches(self, address: str) -> bool:
        """Whether `send` can deliver to this kind of address (for staff alerts)."""
        return False

    def send(self, runtime: Runtime, to: str, body: str) -> str:
        """Deliver one message; returns the provider's id for it. Raises `intake.failures`."""
        raise NotImplementedError(f"{self.name} cannot send")

    def suppressed(self, runtime: Runtime, to: str) -> str | None:
        return None

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
        """`text` as `send` takes it: a reply to `referral`'s sender, or a staff notice (`kind`
        alert) with `subject`. A text message stays text; an email gets its headers."""
        return text

    def reply_address(self, referral: Referral, messages: Iterable[Mapping[str, Any]]) -> str:
        """Where a reply to this referral's sender goes ("" when there is nowhere)."""
        return referral.sender


class UnknownChannel(KeyError):
    """No channel of that name is installed in this process."""


class Channels:
    """The channels this process was composed with, by name."""

    def __init__(self, channels: Iterable[BaseChannel] = ()) -> None:
        self._by_name: dict[str, BaseChannel] = {}
        for channel in channels:
            if channel.name in self._by_name:
                raise ValueError(f"two channels named {channel.name!r}")
            self._by_name[channel.name] = channel

    def get(self, name: str) -> BaseChannel:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name) or "none"
            raise UnknownChannel(f"no channel {name!r} here (installed: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[BaseChannel]:
        return iter(self._by_name.values())

    def names(self) -> list[str]:
        return list(self._by_name)

    def for_address(self, address: str) -> BaseChannel | None:
        """The first channel that can send to `address` (a phone number, an email address)."""
        return next((c for c in self if c.reaches(address)), None)

    def routes(self) -> list[BaseRoute]:
        return [route for channel in self for route in channel.routes]
