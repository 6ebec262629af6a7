"""Advocates' corrections of screening (urgency, safeguarding categories), kept for retraining.

One table keyed by referral (`screening_corrections`), so that erasing a person's referrals
reaches their corrections too (`Corrections.erase`). Each row is written with the change itself
and its audit entry, in `intake.triage`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.referrals import row_to_referral
from intake.store.schema import referrals, screening_corrections

KINDS = ("urgency", "safeguarding")


class Corrections(Queries):
    """`store.corrections`."""

    def record(
        self, referral_id: int, actor: str, kind: str, before: Any, after: Any, reason: str
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        with self.db.transaction() as conn:
            conn.execute(
                screening_corrections.insert().values(
                    referral_id=referral_id,
                    at=utcnow(),
                    actor=actor,
                    kind=kind,
                    before=before,
                    after=after,
                    reason=reason,
                )
            )

    def for_referral(self, referral_id: int) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(screening_corrections)
                .where(screening_corrections.c.referral_id == referral_id)
                .order_by(screening_corrections.c.at, screening_corrections.c.id)
            )
            return [dict(r._mapping) for r in rows]

    def corrected(self) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
        """Each corrected referral (a `Referral`) with its corrections, oldest first."""
        with self.db.read() as conn:
            ids = list(
                conn.execute(
                    sa.select(screening_corrections.c.referral_id)
                    .distinct()
                    .order_by(screening_corrections.c.referral_id)
                ).scalars()
            )
        for referral_id in ids:
            with self.db.read() as conn:
                row = conn.execute(
                    sa.select(referrals).where(referrals.c.id == referral_id)
                ).first()
            if row is not None:
                yield row_to_referral(row), self.for_referral(referral_id)

    def erase(self, referral_id: int) -> int:
        """Delete a referral's corrections (erasure); how many there were."""
        with self.db.transaction() as conn:
            return conn.execute(
                screening_corrections.delete().where(
                    screening_corrections.c.referral_id == referral_id
                )
            ).rowcount
