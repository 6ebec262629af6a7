"""The duty advocate's worklist: which referrals, in what order, found by what they say.

One search interface for the dashboard: reference, sender or any extracted field containing the
term (the "Data protection" work moves it onto a blind index without changing its callers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import phonenumbers
import sqlalchemy as sa

from intake.models import Referral
from intake.store.database import Queries
from intake.store.referrals import row_to_referral
from intake.store.schema import referral_work, referrals

# Status filter values the queue offers; "active" is everything not closed.
STATUS_FILTERS = ("active", "open", "triaged", "closed", "all")


@dataclass(frozen=True)
class QueueRow:
    referral: Referral
    claimed_by: str | None
    triaged_at: datetime | None
    outcome: str | None


class Worklist(Queries):
    """`store.worklist`."""

    def queue(
        self,
        *,
        status: str = "active",
        urgency: str | None = None,
        category: str | None = None,
        channel: str | None = None,
        search: str | None = None,
        limit: int = 200,
    ) -> list[QueueRow]:
        """Most urgent first, then oldest first, with who has claimed each referral."""
        query = sa.select(
            referrals,
            referral_work.c.claimed_by,
            referral_work.c.triaged_at,
            referral_work.c.outcome,
        ).select_from(
            referrals.outerjoin(referral_work, referral_work.c.referral_id == referrals.c.id)
        )
        if status == "active":
            query = query.where(referrals.c.status != "closed")
        elif status and status != "all":
            query = query.where(referrals.c.status == status)
        if urgency:
            query = query.where(referrals.c.urgency == urgency)
        if channel:
            query = query.where(referrals.c.channel == channel)
        if category:
            query = query.where(
                sa.cast(referrals.c.safeguarding, sa.Text).like(f'%"{_like(category)}"%', "\\")
            )
        if search and search.strip():
            query = query.where(_search_clause(search.strip()))
        query = query.order_by(
            referrals.c.urgency_rank, referrals.c.received_at, referrals.c.id
        ).limit(limit)
        with self.db.read() as conn:
            return [
                QueueRow(
                    row_to_referral(row),
                    row._mapping["claimed_by"],
                    row._mapping["triaged_at"],
                    row._mapping["outcome"],
                )
                for row in conn.execute(query)
            ]

    def categories_in_use(self) -> list[str]:
        with self.db.read() as conn:
            values = conn.execute(sa.select(referrals.c.safeguarding)).scalars()
            return sorted({c for cats in values for c in (cats or [])})

    def unclaimed_open(self, urgency: str) -> list[Referral]:
        """Open referrals of one urgency that nobody has claimed (for SLA alerting)."""
        query = (
            sa.select(referrals)
            .select_from(
                referrals.outerjoin(referral_work, referral_work.c.referral_id == referrals.c.id)
            )
            .where(
                referrals.c.status == "open",
                referrals.c.urgency == urgency,
                referral_work.c.claimed_by.is_(None),
            )
            .order_by(referrals.c.received_at)
        )
        with self.db.read() as conn:
            return [row_to_referral(r) for r in conn.execute(query)]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_clause(term: str) -> sa.ColumnElement[bool]:
    """Reference, sender, or any extracted field (name, phone, email) containing the term.

    A UK phone number typed as `07700 900123` is also looked for as `+447700900123`, the form
    Twilio gives and the extractor stores.
    """
    needles = {term}
    try:
        number = phonenumbers.parse(term, "GB")
        if phonenumbers.is_possible_number(number):
            needles.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        pass
    clauses = []
    for needle in needles:
        pattern = f"%{_like(needle.lower())}%"
        clauses += [
            sa.func.lower(referrals.c.reference).like(pattern, "\\"),
            sa.func.lower(referrals.c.sender).like(pattern, "\\"),
            sa.func.lower(sa.cast(referrals.c.fields, sa.Text)).like(pattern, "\\"),
        ]
    return sa.or_(*clauses)
