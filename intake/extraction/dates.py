"""Dates as referrals write them, found with their spans and resolved against the received day.

``find(text)`` returns every date expression with its character span and a resolver;
``DateHit.resolve(today, direction)`` turns it into a calendar date. ``direction`` says what kind
of date is wanted, because a date written without its year or a bare weekday means a different
day for a past event (a detention, an incident: "on Saturday" is the Saturday just gone) than for
a coming one (a best-interests meeting: "on Friday" is the Friday ahead):

* absolute dates: ISO ``2026-11-21``; day first ``21/11/2026``, ``21.11.26``, ``21/11``;
  ``21st November 2026``, ``21 Nov``, ``21st of Nov '26``; month first ``Nov 21st``,
  ``November 21, 2026``; ordinal words ``the twelfth of November``; a weekday and a day number
  ``Weds 25th``; a bare day ``the 20th``. Day-first is the UK convention; month-first is read
  only with the month in words;
* relative days: ``today``, ``last night``, ``yesterday``, ``tomorrow``, ``two days ago``,
  ``in 3 days``, ``since 2pm`` (today); weekdays: ``last Saturday`` (the most recent Saturday
  before the received day), ``this Friday`` (the coming one, or the day itself), ``next
  Tuesday`` (the first Tuesday after the received day), and a bare ``Saturday`` by
  ``direction``.

A date without a year is put in the year that makes it a past date (at most 7 days ahead of the
received day, for a message written the evening before) for ``past``, and a coming one (at most
30 days behind) for ``future``. Vague dates ("last week", "in March") are not dates here.
All patterns are RE2 (`intake.extraction.linear`); words are in ``data/dates.toml``.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Literal

from intake.extraction import linear
from intake.extraction.vocab import compiled, load

Direction = Literal["past", "future"]
Resolver = Callable[[date, Direction], date | None]
PAST_SLACK = timedelta(days=7)
FUTURE_SLACK = timedelta(days=30)


@dataclass(frozen=True)
class DateHit:
    """One date expression: ``text[start:end]`` and how to turn it into a date."""

    start: int
    end: int
    resolver: Resolver

    def resolve(self, today: date, direction: Direction) -> date | None:
        return self.resolver(today, direction)


def _alt(words: list[str]) -> str:
    ordered = sorted(words, key=len, reverse=True)  # longest first: "sept" before "sep"
    return "|".join(linear.escape(w).replace(r"\ ", r"[\s-]+") for w in ordered)


@cache
def _patterns() -> dict[str, linear.Pattern]:
    data = load("dates")
    month = rf"(?P<month>{_alt(list(data['months']))})\.?"
    full_days = [w for w in data["weekdays"] if len(w) > 5]
    weekday = _alt(list(data["weekdays"]))
    wd_prefix = rf"(?:(?:{_alt(full_days)}),?\s+)?"
    year = r"(?:(?:,?\s+'|-)(?P<yy>\d\d)\b|(?:,?\s+|-)(?P<yyyy>(?:19|20)\d\d)\b)?"
    ordinal = rf"(?P<oword>{_alt(list(data['ordinals']))})"
    relative = _alt(list(data["relative"]))
    counts = _alt(list(data["counts"]))
    units = _alt(list(data["units"]))
    day = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
    return {
        "iso": compiled(r"\b(?P<yyyy>(?:19|20)\d\d)[-/.](?P<m>[01]?\d)[-/.](?P<day>[0-3]?\d)\b"),
        "dmy": compiled(
            r"\b(?P<day>[0-3]?\d)[/.\-](?P<m>[01]?\d)[/.\-](?P<yyyy>(?:19|20)\d\d|\d\d)\b"
            r"(?P<unless>[/.\-]\d)?"
        ),
        # "24/7" is round-the-clock care, not a date
        "dm": compiled(
            r"\b(?P<day>[0-3]?\d)/(?P<m>[01]?\d)\b(?P<unless>[/.\-]\d|\s*(?:care|support|days?\b))?"
        ),
        # "6 and 7 November": the first day named
        "day_month": compiled(
            rf"\b{wd_prefix}{day}(?:\s*(?:and|&|to|-)\s*[0-3]?\d(?:st|nd|rd|th)?)?"
            rf"(?:\s+of\s+|\s+|-){month}{year}(?:\b|$)"
        ),
        "month_day": compiled(rf"\b{month}\s+{day}\b{year}"),
        "ordinal_month": compiled(rf"\b(?:the\s+)?{ordinal}(?:\s+of)?\s+{month}{year}"),
        "weekday_day": compiled(
            rf"\b(?P<wd>{weekday})\.?\s+(?:the\s+)?(?P<day>[0-3]?\d)(?:st|nd|rd|th)\b"
        ),
        "the_ordinal": compiled(
            rf"\b(?:on|since|from|by|until|before)\s+the\s+(?P<oword>{_alt(data['day_ordinals']['words'])})\b"
        ),
        "the_day": compiled(
            r"\b(?:on|since|from|by|until|before|for|the)\s+(?:the\s+)?(?P<day>[0-3]?\d)(?:st|nd|rd|th)\b"
        ),
        "relative": compiled(rf"\b(?P<rel>{relative})\b"),
        # "held since 2pm": a time of day alone is today
        "since_time": compiled(
            r"\b(?:since|from)\s+(?:about\s+|around\s+)?[012]?\d(?:[:.][0-5]\d)?\s*(?:[ap]\.?m\b|hrs\b)"
        ),
        "ago": compiled(rf"\b(?P<n>\d{{1,2}}|{counts})\s+(?P<unit>{units})\s+ago\b"),
        "in_n": compiled(rf"\bin\s+(?P<n>\d{{1,2}}|{counts})\s+(?P<unit>{units})\b"),
        "weekday": compiled(
            rf"\b(?P<mod>last|this|next|on|since|from|by|until|before|coming|this coming)?\s*"
            rf"(?P<wd>{weekday})\b\.?(?P<gone>\s+just\s+gone)?"
        ),
    }


def _word_key(word: str) -> str:
    return " ".join(word.lower().replace("-", " ").split())


def _in_year(day: int, month: int, year: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _yearless(day: int, month: int) -> Resolver:
    def resolve(today: date, direction: Direction) -> date | None:
        this = _in_year(day, month, today.year)
        if direction == "past":
            if this is not None and this <= today + PAST_SLACK:
                return this
            return _in_year(day, month, today.year - 1)
        if this is not None and this >= today - FUTURE_SLACK:
            return this
        return _in_year(day, month, today.year + 1)

    return resolve


def _fixed(value: date | None) -> Resolver:
    return lambda _today, _direction: value


def _day_only(day: int, weekday: int | None = None) -> Resolver:
    """A day of the month without its month: the nearest such day on the wanted side."""

    def resolve(today: date, direction: Direction) -> date | None:
        step = -1 if direction == "past" else 1
        # this month, then the months around it, nearest first on the wanted side
        months = [0, step, 2 * step, -step]
        for offset in months:
            y, m = today.year, today.month + offset
            y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
            found = _in_year(day, m, y)
            if found is None or (weekday is not None and found.weekday() != weekday):
                continue
            if direction == "past" and found <= today + timedelta(days=1):
                return found
            if direction == "future" and found >= today - timedelta(days=1):
                return found
        return None

    return resolve


def _shift(days: int) -> Resolver:
    return lambda today, _direction: today + timedelta(days=days)


def _weekday(wd: int, mod: str, gone: bool) -> Resolver:
    def resolve(today: date, direction: Direction) -> date | None:
        back = (today.weekday() - wd) % 7 or 7  # days since the last such day (never today)
        ahead = (wd - today.weekday()) % 7 or 7  # days to the next one (never today)
        if gone or mod == "last":
            return today - timedelta(days=back)
        if mod == "next":
            return today + timedelta(days=ahead)
        if mod in ("this", "coming", "this coming"):
            return today + timedelta(days=(wd - today.weekday()) % 7)
        if mod == "since" or direction == "past":
            return today - timedelta(days=back)
        return today + timedelta(days=ahead)

    return resolve


def _year(match: linear.Match) -> int | None:
    if match["yyyy"]:
        value = int(match["yyyy"])
        return value + 2000 if value < 100 else value
    if match["yy"]:
        return 2000 + int(match["yy"])
    return None


def find(text: str) -> list[DateHit]:
    """Every date expression in ``text`` (not overlapping; longer, more explicit forms first)."""
    data = load("dates")
    months = {_word_key(k): v for k, v in data["months"].items()}
    weekdays = {_word_key(k): v for k, v in data["weekdays"].items()}
    ordinals = {_word_key(k): v for k, v in data["ordinals"].items()}
    counts = {_word_key(k): v for k, v in data["counts"].items()}
    units = {_word_key(k): v for k, v in data["units"].items()}
    relative = {_word_key(k): v for k, v in data["relative"].items()}
    hits: list[DateHit] = []
    # spans taken so far, sorted and never overlapping: a new span is checked against its two
    # neighbours only (a text full of "1/2 " must not cost the square of its length)
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        i = bisect_left(taken, (start, end))
        before_ok = i == 0 or taken[i - 1][1] <= start
        after_ok = i == len(taken) or taken[i][0] >= end
        return before_ok and after_ok

    def add(start: int, end: int, resolver: Resolver) -> None:
        insort(taken, (start, end))
        hits.append(DateHit(start, end, resolver))

    p = _patterns()
    for kind in (
        "iso",
        "dmy",
        "day_month",
        "month_day",
        "ordinal_month",
        "weekday_day",
        "dm",
        "the_day",
        "the_ordinal",
        "ago",
        "in_n",
        "relative",
        "since_time",
        "weekday",
    ):
        for match in p[kind].finditer(text):
            start, end = match.span()
            if start == end or not free(start, end):
                continue
            resolver = _resolver(kind, match, months, weekdays, ordinals, counts, units, relative)
            if resolver is not None:
                add(start, end, resolver)
    return sorted(hits, key=lambda h: h.start)


def _resolver(
    kind: str,
    match: linear.Match,
    months: dict[str, int],
    weekdays: dict[str, int],
    ordinals: dict[str, int],
    counts: dict[str, int],
    units: dict[str, int],
    relative: dict[str, int],
) -> Resolver | None:
    if kind in ("iso", "dmy", "dm"):
        day, month = int(match["day"]), int(match["m"])
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return None
        year = _year(match) if kind != "dm" else None
        return _fixed(_in_year(day, month, year)) if year else _yearless(day, month)
    if kind in ("day_month", "month_day", "ordinal_month"):
        day = ordinals[_word_key(match["oword"])] if kind == "ordinal_month" else int(match["day"])
        month = months[_word_key(match["month"])]
        if not 1 <= day <= 31:
            return None
        year = _year(match)
        return _fixed(_in_year(day, month, year)) if year else _yearless(day, month)
    if kind == "weekday_day":
        day = int(match["day"])
        return _day_only(day, weekdays[_word_key(match["wd"])]) if 1 <= day <= 31 else None
    if kind == "the_ordinal":
        return _day_only(ordinals[_word_key(match["oword"])])
    if kind == "the_day":
        day = int(match["day"])
        return _day_only(day) if 1 <= day <= 31 else None
    if kind in ("ago", "in_n"):
        raw = _word_key(match["n"])
        n = int(raw) if raw.isdigit() else counts[raw]
        days = n * units[_word_key(match["unit"])]
        return _shift(-days if kind == "ago" else days)
    if kind == "relative":
        return _shift(relative[_word_key(match["rel"])])
    if kind == "since_time":
        return _shift(0)
    wd_word = _word_key(match["wd"])
    mod = _word_key(match["mod"] or "")
    if wd_word not in weekdays:
        return None
    # an abbreviation ("sat", "wed", "sun") is a weekday only after a word that introduces one
    if len(wd_word) <= 5 and wd_word not in ("monday", "friday", "sunday") and not mod:
        return None
    return _weekday(weekdays[wd_word], mod, bool(match["gone"]))
