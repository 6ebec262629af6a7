"""Telling the sender they were heard, unless telling them could hurt them.

`plan` is pure: it decides whether to acknowledge and renders the text. No acknowledgement goes
to someone who said not to reply ("don't text back, he checks my phone"), to a withheld number,
or on a channel that cannot carry one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.config import Settings
from intake.models import InboundMessage, Referral
from intake.templating import render_text

# The channel a reply goes back on, and the template family for it.
REPLY_CHANNEL = {"sms": ("sms", "ack/sms"), "voice": ("sms", "ack/voice_sms")}


# UK mobiles: +44 71-75, 77-79 and 7624 (Isle of Man); 70 (personal numbers) and 76 (pagers)
# are not phones that can take a text.
_UK_MOBILE = re.compile(r"^\+447(?:[1-57-9]\d{8}|624\d{6})$")


def is_uk_mobile(number: str) -> bool:
    """Whether a caller ID is a UK mobile number in E.164 (pure)."""
    return bool(_UK_MOBILE.match(number.replace(" ", "")))


@dataclass(frozen=True)
class Plan:
    channel: str
    to: str
    body: str
    dedupe_key: str


@dataclass(frozen=True)
class Skip:
    reason: str


def plan(settings: Settings, referral: Referral, message: InboundMessage) -> Plan | Skip:
    if not referral.safe_to_contact:
        return Skip("not safe to contact")
    route = REPLY_CHANNEL.get(message.channel)
    if route is None:
        return Skip(f"no acknowledgement on {message.channel}")
    channel, template = route
    if not message.sender or message.meta.get("withheld"):
        return Skip("no number to reply to")
    if message.meta.get("OptOutType"):
        return Skip("sender opted out")
    if message.channel == "voice" and not is_uk_mobile(message.sender):
        return Skip("caller is not on a UK mobile: a landline cannot take a text")
    if referral.urgency == "emergency":
        template += "_emergency"
    body = render_text(
        settings.templates_dir,
        template + ".txt",
        reference=referral.reference,
        org_name=settings.org_name,
        crisis_line=settings.crisis_line,
    )
    return Plan(
        channel=channel,
        to=message.sender,
        body=body,
        dedupe_key=f"ack:{referral.reference}:{message.sender}",
    )
