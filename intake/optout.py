"""STOP, START and HELP by text: our own suppression list, and the keywords that change it.

Twilio keeps a list of its own on long codes and still posts the message to the webhook (with an
`OptOutType` field), but a number on Twilio's list makes every later send fail with 21610, and a
number that opted out must get nothing from us whichever provider sends it. So the choice is
stored here, and `intake.outbound.send` refuses SMS to a number that is opted out.

`keyword_of` is pure; the rest reads or writes the `sms_optouts` table. A change is applied only
if its message is newer than the last change recorded, so a retried STOP job that runs after the
START that followed it cannot opt the person out again.
"""

from __future__ import annotations

import logging
import re
import tomllib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from intake.models import utcnow
from intake.store import Store, sms_optouts

log = logging.getLogger(__name__)

Keyword = Literal["stop", "start", "help"]
KEYWORDS_FILE = Path(__file__).resolve().parent / "data" / "sms_keywords.toml"
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
    with store.engine.connect() as conn:
        value = conn.execute(
            sa.select(sms_optouts.c.opted_out).where(
                sms_optouts.c.phone == normalise_phone(phone)
            )
        ).scalar_one_or_none()
    return bool(value)


def status(store: Store, phone: str) -> dict[str, Any] | None:
    """The stored choice for a number (`opted_out`, `keyword`, `changed_at` ...), if any."""
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(sms_optouts).where(sms_optouts.c.phone == normalise_phone(phone))
        ).first()
    return dict(row._mapping) if row else None


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
    phone = normalise_phone(phone)
    values = {
        "opted_out": opted_out,
        "keyword": keyword[:32],
        "provider_id": provider_id[:255],
        "changed_at": at,
        "updated_at": utcnow(),
    }
    with store.engine.begin() as conn:
        current = conn.execute(
            sa.select(sms_optouts.c.changed_at, sms_optouts.c.provider_id).where(
                sms_optouts.c.phone == phone
            )
        ).first()
        if current is None:
            try:
                with conn.begin_nested():
                    conn.execute(sms_optouts.insert().values(phone=phone, **values))
                return True
            except sa.exc.IntegrityError:
                current = conn.execute(
                    sa.select(sms_optouts.c.changed_at, sms_optouts.c.provider_id).where(
                        sms_optouts.c.phone == phone
                    )
                ).first()
                assert current is not None
        if current.provider_id == provider_id:
            return True  # this very message, again
        if current.changed_at > at:
            return False
        conn.execute(sms_optouts.update().where(sms_optouts.c.phone == phone).values(**values))
    return True


def note_provider_opt_out(store: Store, phone: str, provider_id: str) -> None:
    """Twilio refused a text with 21610 (the number sent STOP to Twilio): remember it here too."""
    record(
        store, phone, opted_out=True, keyword="twilio-21610", provider_id=provider_id, at=utcnow()
    )
