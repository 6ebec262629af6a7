"""The duty advocate's worklist: which referrals, in what order, found by what they say.

**Order: what needs a person first.** Most urgent first, where a referral whose statutory deadline
(`deadline_on`: a section 2 tribunal deadline, an IMCA decision date, a complaint time limit; see
`intake.deadlines`) falls within `deadline_days` of today counts as at least urgent even if the
deadline came closer after it was screened; within one urgency, referrals that need action (open
and unclaimed, or with a new message since a person triaged or decided them), then open ones
someone has claimed, then triaged ones, then closed ones; within each, the nearest deadline first,
then oldest first. The
time to triage only grows with age, so within "needs action" the overdue ones come first: an
overdue, unclaimed emergency is never below one somebody is already working.

**Nothing hidden silently.** `queue` returns one page with the number of referrals that match
the filter, and how many of them are of each urgency and need action, so the page can say
"200 of 1,312 open; 14 emergencies" and offer the next page.

**One search interface.** `queue(search=...)` is the only way to search: it looks the query's
words up in the search index (`intake.store.search`), which the "Data protection" work turns
into a blind index without changing this module's callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from intake.deadlines import deadline_on
from intake.models import URGENCIES, URGENCY_RANK, Referral
from intake.store import search as search_index
from intake.store.cursor import NO_DEADLINE, make_queue_cursor, parse_queue_cursor
from intake.store.database import Queries, UTCDateTime
from intake.store.referrals import row_to_referral
from intake.store.schema import referral_work, referrals

# Status filter values the queue offers; "active" is everything not closed.
STATUS_FILTERS = ("active", "open", "triaged", "closed", "all")
ACTIVE = ("open", "triaged")
MAX_PAGE = 500

# Within an urgency: 0 needs action, 1 claimed, 2 triaged, 3 closed.
NEEDS_ACTION, CLAIMED, TRIAGED, CLOSED = range(4)
_ACTION = sa.case(
    (referrals.c.new_message_at.is_not(None), NEEDS_ACTION),
    (
        sa.and_(referrals.c.status == "open", referral_work.c.claimed_by.is_(None)),
        NEEDS_ACTION,
    ),
    (referrals.c.status == "open", CLAIMED),
    (referrals.c.status == "triaged", TRIAGED),
    else_=CLOSED,
)


def _effective_rank(today: date | None, deadline_days: int | None) -> Any:
    """The urgency rank the queue orders by: a coming deadline within `deadline_days` of `today`
    lifts a routine referral to urgent (never lowers one)."""
    if today is None or deadline_days is None:
        return referrals.c.urgency_rank
    urgent = URGENCY_RANK["urgent"]
    return sa.case(
        (
            sa.and_(
                referrals.c.deadline_on.is_not(None),
                referrals.c.deadline_on >= today,
                referrals.c.deadline_on <= today + timedelta(days=deadline_days),
                referrals.c.urgency_rank > urgent,
            ),
            urgent,
        ),
        else_=referrals.c.urgency_rank,
    )


# a referral without a deadline comes after those with one, on SQLite and PostgreSQL alike
# Nearest deadline first, none last; one key, so that a keyset cursor can compare it.
_DEADLINE_KEY = sa.func.coalesce(referrals.c.deadline_on, sa.literal(NO_DEADLINE, sa.Date()))


@dataclass(frozen=True)
class QueueRow:
    referral: Referral
    claimed_by: str | None
    triaged_at: datetime | None
    outcome: str | None
    claimed_at: datetime | None = None
    stage: int = NEEDS_ACTION  # NEEDS_ACTION, CLAIMED, TRIAGED or CLOSED
    rank: int | None = None  # the urgency rank the queue ordered it by (a near deadline lifts it)

    @property
    def needs_action(self) -> bool:
        return self.stage == NEEDS_ACTION

    @property
    def cursor(self) -> str:
        """The keyset cursor just after this row (`Worklist.queue(after=...)`)."""
        return make_queue_cursor(
            self.rank if self.rank is not None else URGENCY_RANK.get(self.referral.urgency, 2),
            self.stage,
            deadline_on(self.referral.screening),
            self.referral.received_at,
            self.referral.id or 0,
        )


@dataclass(frozen=True)
class QueueFilter:
    """What the advocate asked for; every field optional (empty means any)."""

    status: str = "active"
    urgency: str | None = None
    category: str | None = None
    channel: str | None = None
    search: str | None = None
    claimed_by: str | None = None  # "my referrals"
    unclaimed: bool = False


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int  # referrals matching the filter
    offset: int
    limit: int
    by_urgency: dict[str, int] = field(default_factory=dict)  # matching, per urgency
    needing_action: dict[str, int] = field(default_factory=dict)  # of those, needing action

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.rows) < self.total


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(wanted: QueueFilter) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = []
    if wanted.status == "active":
        # "not closed", said as the statuses it means so the queue index can be used
        clauses.append(referrals.c.status.in_(ACTIVE))
    elif wanted.status and wanted.status != "all":
        clauses.append(referrals.c.status == wanted.status)
    if wanted.urgency:
        clauses.append(referrals.c.urgency == wanted.urgency)
    if wanted.channel:
        clauses.append(referrals.c.channel == wanted.channel)
    if wanted.category:
        clauses.append(
            sa.cast(referrals.c.safeguarding, sa.Text).like(
                f'%"{_like(wanted.category)}"%', "\\"
            )
        )
    if wanted.claimed_by:
        clauses.append(referral_work.c.claimed_by == wanted.claimed_by)
    if wanted.unclaimed:
        clauses.append(referral_work.c.claimed_by.is_(None))
    if wanted.search and wanted.search.strip():
        found = search_index.matching(wanted.search)
        clauses.append(found if found is not None else sa.false())
    return clauses


_JOINED = referrals.outerjoin(referral_work, referral_work.c.referral_id == referrals.c.id)


class Worklist(Queries):
    """`store.worklist`."""

    def queue(
        self,
        wanted: QueueFilter | None = None,
        *,
        offset: int = 0,
        limit: int = 200,
        today: date | None = None,
        deadline_days: int | None = None,
        after: str | None = None,
    ) -> QueuePage:
        """One page of the queue in working order (see the module docstring), with counts.

        Without `today` and `deadline_days`, deadlines order referrals within an urgency but do
        not lift one. `after` (a `QueueRow.cursor` of the previous page's last row, read with the
        same `today`) starts the page just after that row by its sort key instead of skipping
        `offset` rows; the counts are the same. Raises `ValueError` for a cursor that is not one.
        """
        wanted = wanted or QueueFilter()
        limit = max(1, min(limit, MAX_PAGE))
        offset = max(0, offset)
        where = _where(wanted)
        page_where = list(where)
        rank_key = _effective_rank(today, deadline_days)
        key = (rank_key, _ACTION, _DEADLINE_KEY, referrals.c.received_at, referrals.c.id)
        if after is not None:
            rank, last_stage, deadline, received_at, last_id = parse_queue_cursor(after)
            page_where.append(
                sa.tuple_(*key)
                > sa.tuple_(
                    sa.literal(rank),
                    sa.literal(last_stage),
                    sa.literal(deadline, sa.Date()),
                    sa.literal(received_at, UTCDateTime()),
                    sa.literal(last_id),
                )
            )
        stage = _ACTION.label("stage")
        rows_query = (
            sa.select(
                referrals,
                referral_work.c.claimed_by,
                referral_work.c.claimed_at,
                referral_work.c.triaged_at,
                referral_work.c.outcome,
                stage,
                rank_key.label("effective_rank"),
            )
            .select_from(_JOINED)
            .where(*page_where)
            .order_by(*key)
            .limit(limit)
            .offset(offset)
        )
        counts_query = (
            sa.select(referrals.c.urgency, _ACTION, sa.func.count())
            .select_from(_JOINED)
            .where(*where)
            .group_by(referrals.c.urgency, _ACTION)
        )
        with self.db.read() as conn:
            rows = [
                QueueRow(
                    row_to_referral(row),
                    row._mapping["claimed_by"],
                    row._mapping["triaged_at"],
                    row._mapping["outcome"],
                    row._mapping["claimed_at"],
                    int(row._mapping["stage"]),
                    int(row._mapping["effective_rank"]),
                )
                for row in conn.execute(rows_query)
            ]
            counted = list(conn.execute(counts_query))
        by_urgency = dict.fromkeys(URGENCIES, 0)
        needing = dict.fromkeys(URGENCIES, 0)
        for urgency, stage_value, count in counted:
            by_urgency[urgency] = by_urgency.get(urgency, 0) + count
            if stage_value == NEEDS_ACTION:
                needing[urgency] = needing.get(urgency, 0) + count
        return QueuePage(
            rows=rows,
            total=sum(by_urgency.values()),
            offset=offset,
            limit=limit,
            by_urgency=by_urgency,
            needing_action=needing,
        )

    def needing_action(self, urgency: str = "emergency", limit: int = 50) -> list[QueueRow]:
        """Referrals of one urgency that need a person now (for live alerts), oldest first."""
        return [
            row
            for row in self.queue(QueueFilter(urgency=urgency), limit=limit).rows
            if row.needs_action
        ]

    def unclaimed_open(self, urgency: str) -> list[Referral]:
        """Open referrals of one urgency that nobody has claimed (for SLA alerting)."""
        query = (
            sa.select(referrals)
            .select_from(_JOINED)
            .where(
                referrals.c.status == "open",
                referrals.c.urgency == urgency,
                referral_work.c.claimed_by.is_(None),
            )
            .order_by(referrals.c.received_at)
        )
        with self.db.read() as conn:
            return [row_to_referral(r) for r in conn.execute(query)]
