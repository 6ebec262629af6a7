"""STOP, START and HELP by text: our own suppression list, and the keywords that change it.

Twilio keeps a list of its own on long codes and still posts the message to the webhook (with an
`OptOutType` field), but a number on Twilio's list makes every later send fail with 21610, and a
number that opted out must get nothing from us whichever provider sends it. So the choice is
stored (`store.optouts`), and the SMS channel's `suppressed` hook makes `intake.outbound.send`
refuse a text to a number that is opted out.

`keyword_of` is pure; the words are in `keywords.toml` beside this module. A change is applied
only if its message is newer than the last change recorded, so a retried STOP job that runs after
the START that followed it cannot opt the person out again.
"""

from __future__ import annotations

import logging
import re
import tomllib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from intake.models import utcnow
from intake.store import Store

log = logging.getLogger(__name__)

Keyword = Literal["stop", "start", "help"]
KEYWORDS_FILE = Path(__file__).resolve().parent / "keywords.toml"
_TWILIO_TYPES: dict[str, Keyword] = {"STOP": "stop", "START": "start", "HELP": "help"}
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


@lru_cache(maxsize=1)
def keywords() -> dict[str, frozenset[str]]:
    data: dict[str, Any] = tomllib.loads(KEYWORDS_FILE.read_text(encoding="utf-8"))
    return {key: frozenset(w.upper() for w in value) for key, value in data.items()}


def normalise_phone(number: str) -> str:
    return re.sub(r"[\s()-]", "", number or "")


def keyword_of(body: str, meta: dict[str, Any], *, opted_out: bool) -> Keyword | None:
    """Which keyword a text is, if any (pure).

    Twilio's `OptOutType` wins; otherwise the whole text, less case and punctuation, must be
    one of the words (as on Twilio: "please stop texting my mum" is a message, not an opt-out).
    """
    told = _TWILIO_TYPES.get(str(meta.get("OptOutType") or "").strip().upper())
    word = _EDGES.sub("", (body or "").strip()).upper()
    if told == "start" and not opted_out and word in keywords()["opt_in_only_when_opted_out"]:
        return None  # "YES" from someone not opted out is an answer, whatever Twilio tags it
    if told:
        return told
    words = keywords()
    if word in words["stop"]:
        return "stop"
    if word in words["start"] or (opted_out and word in words["opt_in_only_when_opted_out"]):
        return "start"
    if word in words["help"]:
        return "help"
    return None


def is_opted_out(store: Store, phone: str) -> bool:
    return store.optouts.is_opted_out(normalise_phone(phone))


def status(store: Store, phone: str) -> dict[str, Any] | None:
    """The stored choice for a number (`opted_out`, `keyword`, `changed_at` ...), if any."""
    return store.optouts.status(normalise_phone(phone))


def record(
    store: Store,
    phone: str,
    *,
    opted_out: bool,
    keyword: str,
    provider_id: str,
    at: datetime,
) -> bool:
    """Store a STOP or START; False when a newer change is already stored (a stale retry)."""
    return store.optouts.record(
        normalise_phone(phone), opted_out=opted_out, keyword=keyword, provider_id=provider_id, at=at
    )


def note_provider_opt_out(store: Store, phone: str) -> None:
    """Twilio refused a text with 21610 (the number sent STOP to Twilio): remember it here too."""
    at = utcnow()
    record(
        store,
        phone,
        opted_out=True,
        keyword="twilio-21610",
        provider_id=f"twilio-21610:{at.isoformat()}",
        at=at,
    )
