"""Keyset pagination cursors: where the last page ended, as a short URL-safe string.

A page that starts "after (rank, received_at, id)" is an index seek whatever its depth; OFFSET reads
and throws away every row before the page, so page 10,000 of a large store costs 10,000 pages.
The cursor carries only the sort key of the last row (no personal data), as dot-separated
numbers: urgency rank, the received time in microseconds since the epoch (UTC), the row id, and
for the queue the row's action stage. The queue orders by statutory deadline too (issue
"Statutory eligibility and deadlines"), so its cursor is its own: `q` then the effective rank,
stage, deadline (days since the epoch; the largest when none), received time and id.
Clients treat both as opaque (the API's `next`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Bounded digits keep every cursor the pattern admits a valid one (16 digits of microseconds
# reach the year 2286); openapi.json's `after` has the three-part pattern.
_CURSOR = re.compile(r"^(\d{1,2})\.(\d{1,16})\.(\d{1,10})(?:\.(\d))?$")


def make_cursor(rank: int, received_at: datetime, row_id: int, stage: int | None = None) -> str:
    """The cursor after a row with this sort key (`stage`: the queue's action stage, if any)."""
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    micros = (received_at - _EPOCH) // timedelta(microseconds=1)
    parts = [rank, micros, row_id] + ([] if stage is None else [stage])
    return ".".join(str(int(p)) for p in parts)


def parse_cursor(cursor: str, *, stage: bool = False) -> tuple[int, datetime, int, int | None]:
    """(rank, received_at, id, stage or None) from `make_cursor`'s string.

    Raises ValueError for anything else (a cursor is user input on the API)."""
    match = _CURSOR.match(cursor)
    if match is None or (match.group(4) is not None) != stage:
        raise ValueError("not a page cursor")
    rank, micros, row_id, last_stage = match.groups()
    received_at = _EPOCH + timedelta(microseconds=int(micros))
    return int(rank), received_at, int(row_id), int(last_stage) if stage else None


# The queue's cursor; a referral without a deadline sorts after every dated one.
NO_DEADLINE = date(9999, 12, 31)
_QUEUE_CURSOR = re.compile(r"^q(\d{1,2})\.(\d)\.(\d{1,7})\.(\d{1,16})\.(\d{1,10})$")


def make_queue_cursor(
    rank: int, stage: int, deadline: date | None, received_at: datetime, row_id: int
) -> str:
    """The queue's cursor after a row with this sort key (see the module docstring)."""
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    micros = (received_at - _EPOCH) // timedelta(microseconds=1)
    days = ((deadline or NO_DEADLINE) - _EPOCH.date()).days
    return f"q{int(rank)}.{int(stage)}.{days}.{micros}.{int(row_id)}"


def parse_queue_cursor(cursor: str) -> tuple[int, int, date, datetime, int]:
    """(rank, stage, deadline or NO_DEADLINE, received_at, id) from `make_queue_cursor`'s string.

    Raises ValueError for anything else (a cursor is user input)."""
    match = _QUEUE_CURSOR.match(cursor)
    if match is None:
        raise ValueError("not a queue cursor")
    rank, stage, days, micros, row_id = match.groups()
    deadline = _EPOCH.date() + timedelta(days=int(days))
    if deadline > NO_DEADLINE:
        raise ValueError("not a queue cursor")
    received_at = _EPOCH + timedelta(microseconds=int(micros))
    return int(rank), int(stage), deadline, received_at, int(row_id)
