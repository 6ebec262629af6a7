"""What the dashboard keeps for each member of staff: saved queue filters and notices."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import notices, referrals, saved_filters

MAX_SAVED_FILTERS = 30


class Desk(Queries):
    """`store.desk`: saved filters and notices, by the staff member's email."""

    # -- saved filters --------------------------------------------------------------------------

    def save_filter(self, owner: str, name: str, query: str) -> None:
        """Keep (or replace) a named filter; `query` is the queue's query string."""
        owner = owner.lower()
        with self.db.transaction() as conn:
            done = conn.execute(
                saved_filters.update()
                .where(saved_filters.c.owner == owner, saved_filters.c.name == name)
                .values(query=query)
            ).rowcount
            if done:
                return
            count = conn.execute(
                sa.select(sa.func.count()).where(saved_filters.c.owner == owner)
            ).scalar_one()
            if count >= MAX_SAVED_FILTERS:
                raise ValueError(f"at most {MAX_SAVED_FILTERS} saved filters each")
            try:
                with conn.begin_nested():
                    conn.execute(
                        saved_filters.insert().values(
                            owner=owner, name=name, query=query, created_at=utcnow()
                        )
                    )
            except IntegrityError:  # saved twice at once: the other one stands
                pass

    def filters(self, owner: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(saved_filters)
                .where(saved_filters.c.owner == owner.lower())
                .order_by(saved_filters.c.name)
            )
            return [dict(r._mapping) for r in rows]

    def delete_filter(self, owner: str, filter_id: int) -> bool:
        with self.db.transaction() as conn:
            return bool(
                conn.execute(
                    saved_filters.delete().where(
                        saved_filters.c.owner == owner.lower(), saved_filters.c.id == filter_id
                    )
                ).rowcount
            )

    # -- notices --------------------------------------------------------------------------------

    def notify(self, recipient: str, text: str, referral_id: int | None = None) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                notices.insert().values(
                    recipient=recipient.lower(),
                    referral_id=referral_id,
                    text=text[:500],
                    created_at=utcnow(),
                )
            )

    def notices(
        self, recipient: str, *, unread_only: bool = False, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Newest first, with the referral's reference."""
        query = (
            sa.select(notices, referrals.c.reference)
            .select_from(notices.outerjoin(referrals, referrals.c.id == notices.c.referral_id))
            .where(notices.c.recipient == recipient.lower())
        )
        if unread_only:
            query = query.where(notices.c.read_at.is_(None))
        query = query.order_by(notices.c.created_at.desc(), notices.c.id.desc()).limit(limit)
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def unread_count(self, recipient: str) -> int:
        with self.db.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).where(
                    notices.c.recipient == recipient.lower(), notices.c.read_at.is_(None)
                )
            ).scalar_one()

    def mark_read(self, recipient: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                notices.update()
                .where(notices.c.recipient == recipient.lower(), notices.c.read_at.is_(None))
                .values(read_at=utcnow())
            )
