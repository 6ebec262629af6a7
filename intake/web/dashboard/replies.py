"""Replies an advocate sends to the person: which templates, on which channel, and when not at all.

Templates are files in `templates/replies/` (the first line, a Jinja comment, is the title shown in
the menu), so a service rewords them without touching code; `intake.triage.reply` sends them.
`contactability` is pure: it says whether and how the person can be replied to, and why not when
they cannot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intake.models import Referral
from intake.templating import titled
from intake.triage import REPLY_DIR

OPT_OUT_TYPES = {"STOP"}


@dataclass(frozen=True)
class Contact:
    channel: str | None
    to: str
    reason: str = ""

    @property
    def possible(self) -> bool:
        return self.channel is not None


def reply_templates(templates_dir: Path) -> list[tuple[str, str]]:
    """(name, title) for every reply template, sorted by title."""
    return titled(templates_dir, REPLY_DIR)


def contactability(
    referral: Referral,
    messages: Iterable[Mapping[str, Any]],
    *,
    reply_channel: str | None,
    to: str,
    suppressed: str | None = None,
) -> Contact:
    """Whether the person may be replied to, on which channel, at which address (pure).

    `reply_channel` and `to` are what the referral's channel says (`BaseChannel.reply_channel`,
    `reply_address`); `suppressed` is the reply channel's reason not to send now (an opt-out).
    """
    if not referral.safe_to_contact:
        return Contact(None, "", "Not safe to contact: the message asked not to be contacted.")
    if suppressed:
        return Contact(None, "", "The person has opted out of messages (STOP).")
    for message in messages:
        meta = message.get("meta") or {}
        if str(meta.get("OptOutType", "")).upper() in OPT_OUT_TYPES:
            return Contact(None, "", "The person has opted out of messages (STOP).")
        if meta.get("withheld"):
            return Contact(None, "", "The number was withheld.")
    if reply_channel is None:
        return Contact(None, "", f"Replies on {referral.channel} are not available here.")
    if not to:
        return Contact(None, "", "There is no number or address to reply to.")
    return Contact(reply_channel, to)
