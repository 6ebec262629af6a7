"""Opening hours and bank holidays: is a person at the service likely to pick this up today?

The voicemail greeting changes out of hours so a caller is not promised a call back that afternoon.
Opening hours are a short spec people can write in an environment variable
(`"mon-fri 09:00-17:00; sat 10:00-13:00"`), read in local time (Europe/London by default, so
British Summer Time is handled). Bank holidays come from a JSON file in the shape GOV.UK publishes
at https://www.gov.uk/bank-holidays.json, so a service can drop in the official file each year.
Everything here is pure apart from `load_bank_holidays`, which reads the file once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(
    r"^\s*(?P<first>[a-z]{3})(?:\s*-\s*(?P<last>[a-z]{3}))?\s+"
    r"(?P<open>\d{1,2}:\d{2})\s*-\s*(?P<close>\d{1,2}:\d{2})\s*$"
)


@dataclass(frozen=True)
class Session:
    """One opening window on one weekday (0 = Monday)."""

    weekday: int
    opens: time
    closes: time


class BadOpeningHours(ValueError):
    """The opening-hours spec could not be read; the message says which part."""


def parse_opening_hours(spec: str) -> tuple[Session, ...]:
    """`"mon-fri 09:00-17:00; sat 10:00-13:00"` → sessions; an empty spec means never open."""
    sessions: list[Session] = []
    for part in filter(None, (p.strip() for p in re.split(r"[;,]", spec.lower()))):
        match = _PART.match(part)
        if not match or match["first"] not in DAYS or (match["last"] or "mon") not in DAYS:
            raise BadOpeningHours(f"cannot read opening hours {part!r}")
        first = DAYS.index(match["first"])
        last = DAYS.index(match["last"]) if match["last"] else first
        opens, closes = time.fromisoformat(_pad(match["open"])), time.fromisoformat(
            _pad(match["close"])
        )
        if closes <= opens:
            raise BadOpeningHours(f"closing time is not after opening time in {part!r}")
        days = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        sessions.extend(Session(day, opens, closes) for day in days)
    return tuple(sessions)


def _pad(hhmm: str) -> str:
    return hhmm if len(hhmm) == 5 else "0" + hhmm


def parse_bank_holidays(data: object, division: str = "england-and-wales") -> frozenset[date]:
    """Dates from GOV.UK's JSON (`{division: {"events": [{"date": ...}]}}`) or a plain list."""
    if isinstance(data, dict):
        data = (data.get(division) or {}).get("events", [])
    if not isinstance(data, list):
        raise ValueError("bank holidays must be GOV.UK's JSON or a list of dates")
    found: set[date] = set()
    for item in data:
        value = item.get("date") if isinstance(item, dict) else item
        found.add(date.fromisoformat(str(value)))
    return frozenset(found)


@lru_cache(maxsize=4)
def load_bank_holidays(path: Path, division: str = "england-and-wales") -> frozenset[date]:
    """Read a bank-holiday file once per process; a missing file means no bank holidays."""
    if not path.exists():
        return frozenset()
    return parse_bank_holidays(json.loads(path.read_text(encoding="utf-8")), division)


def is_open(
    when: datetime,
    sessions: tuple[Session, ...],
    bank_holidays: frozenset[date] = frozenset(),
    timezone: str = "Europe/London",
) -> bool:
    """Whether `when` (aware; naive is taken as UTC) falls in opening hours, local time."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo("UTC"))
    local = when.astimezone(ZoneInfo(timezone))
    if local.date() in bank_holidays:
        return False
    now = local.time()
    return any(
        s.weekday == local.weekday() and s.opens <= now < s.closes for s in sessions
    )
