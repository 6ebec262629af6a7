"""The voice channel as the pipeline sees it (`intake.channel`): Twilio Voice voicemail.

- `accept`: one callback applied to its call under the call's lock (`calls.accept`);
- `respond`: one text back to the caller once the transcript is screened (`calls.respond`);
- it sends nothing itself: replies go out by SMS (`reply_channel`), and a call's referral is never
  merged with another channel's (it is rebuilt from its call record on every event).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from channels.voice import api, calls, webhooks
from intake.channel import BaseChannel, Handled, Outcome
from intake.models import InboundMessage, Referral
from intake.runtime import Runtime


class VoiceChannel(BaseChannel):
    name = "voice"
    reply_channel = "sms"
    routes = (*webhooks.routes, *api.routes)

    @contextmanager
    def accept(
        self, runtime: Runtime, payload: Mapping[str, Any]
    ) -> Iterator[InboundMessage | Handled]:
        with calls.accept(runtime, payload) as accepted:
            yield accepted

    def unprocessed(self, runtime: Runtime, payload: Mapping[str, Any]) -> InboundMessage | None:
        return None  # the call's row in voice_calls is kept, and lists it for a call-back

    def respond(self, runtime: Runtime, outcome: Outcome) -> str:
        return calls.respond(runtime, outcome)

    def reply_address(self, referral: Referral, messages: Iterable[Mapping[str, Any]]) -> str:
        for stored in messages:
            if (stored.get("meta") or {}).get("withheld"):
                return ""
        return referral.sender if referral.sender.startswith("+") else ""
