"""Statutory deadlines a referral's eligibility card implies, and what they do to its urgency.

Kinds and their rules are in ``intake/data/deadlines.toml``: the section 2 tribunal deadline
(MHA 1983 s66), an IMCA decision's date (MCA 2005 ss37-39), an NHS or social care complaint's
12-month limit (SI 2009/309 reg 12). Pure functions; the pipeline applies them to the stored
screening (``apply``), so the screen itself stays about risk and its evaluation is unchanged.

**The one ordering** (see `intake.store.worklist`): most urgent first, where a statutory deadline
within ``DEADLINE_URGENT_DAYS`` days (today counted as 0) makes a referral at least *urgent*;
within an urgency and a stage of work, the nearest deadline first; then the oldest.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from intake.models import more_urgent

URGENT = "urgent"
DEFAULT_URGENT_DAYS = 3


@dataclass(frozen=True)
class Deadline:
    """``kind`` ("tribunal", "decision", "complaint") falls on ``on``; ``label`` names it."""

    kind: str
    on: date
    label: str
    source: str

    def text(self) -> str:
        """"tribunal deadline Thu 3 Dec"."""
        return f"{self.label} {self.on:%a} {self.on.day} {self.on:%b}"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "date": self.on.isoformat(), "text": self.text(),
                "source": self.source}


@cache
def _rules() -> dict[str, dict[str, Any]]:
    text = resources.files("intake").joinpath("data", "deadlines.toml").read_text("utf-8")
    return tomllib.loads(text)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (day.day, 30, 29, 28):  # 29 February plus 12 months is 28 February
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def card_of(fields: dict[str, Any]) -> dict[str, Any]:
    """The eligibility card in a referral's stored fields (flat or under ``fields``)."""
    inner = fields.get("fields") if isinstance(fields.get("fields"), dict) else fields
    card = inner.get("eligibility") if isinstance(inner, dict) else None
    return card if isinstance(card, dict) else {}


def deadlines(fields: dict[str, Any]) -> list[Deadline]:
    """Every deadline the card implies, earliest first (a date the card holds badly is skipped)."""
    card = card_of(fields)
    found: list[Deadline] = []
    for kind, rule in _rules().items():
        raw = card.get(rule["field"])
        if not isinstance(raw, str):
            continue
        try:
            on = _add_months(date.fromisoformat(raw), int(rule["months"]))
        except ValueError:
            continue
        found.append(Deadline(kind, on, str(rule["label"]), str(rule["source"])))
    return sorted(found, key=lambda d: d.on)


def nearest(fields: dict[str, Any], today: date) -> Deadline | None:
    """The earliest deadline not yet passed on ``today``, else None."""
    return next((d for d in deadlines(fields) if d.on >= today), None)


def apply(
    screening: dict[str, Any], fields: dict[str, Any], today: date, urgent_days: int
) -> dict[str, Any]:
    """The stored screening with the referral's nearest deadline on it (``deadline``), and its
    urgency raised to at least urgent when that deadline is within ``urgent_days`` days
    (``deadline_floor`` records it). Never lowers an urgency; with no coming deadline, any old
    deadline note is removed."""
    out = {k: v for k, v in screening.items() if k not in ("deadline", "deadline_floor")}
    due = nearest(fields, today)
    if due is None:
        return out
    out["deadline"] = due.to_dict()
    days = (due.on - today).days
    out["deadline"]["days"] = days
    if days <= urgent_days and more_urgent(URGENT, str(out.get("urgency", "routine"))):
        out["urgency"] = URGENT
        out["deadline_floor"] = URGENT
    return out


def deadline_on(screening: dict[str, Any]) -> date | None:
    """The date the queue orders by, from a stored screening (None when it has no deadline)."""
    raw = (screening.get("deadline") or {}).get("date")
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
