"""What advocates do to a referral: claims, triage, outcomes, notes and field edits.

Claims, triage and outcomes live in `dashboard_referral_work` (one row per referral, made on first
touch); notes and field edits are only ever added, so the page can always say who changed what.
The decisions themselves (and their audit entries) are made in `intake.triage`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import field_edits, notes, referral_work


class Work(Queries):
    """`store.work`."""

    def get(self, referral_id: int) -> dict[str, Any]:
        """The referral's work row; every value None when nobody has touched it yet."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(referral_work).where(referral_work.c.referral_id == referral_id)
            ).first()
        if row:
            return dict(row._mapping)
        return {c.name: None for c in referral_work.c} | {"referral_id": referral_id}

    def set(self, referral_id: int, **values: Any) -> None:
        """Change the work row, making it on first touch."""
        where = referral_work.c.referral_id == referral_id
        with self.db.transaction() as conn:
            if conn.execute(referral_work.update().where(where).values(**values)).rowcount:
                return
            try:
                with conn.begin_nested():
                    conn.execute(referral_work.insert().values(referral_id=referral_id, **values))
            except IntegrityError:  # someone else made the row a moment ago
                conn.execute(referral_work.update().where(where).values(**values))

    def add_note(self, referral_id: int, author: str, body: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                notes.insert().values(
                    referral_id=referral_id, author=author, body=body, at=utcnow()
                )
            )

    def notes_for(self, referral_id: int) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(notes)
                .where(notes.c.referral_id == referral_id)
                .order_by(notes.c.at, notes.c.id)
            )
            return [dict(r._mapping) for r in rows]

    def record_field_edit(
        self, referral_id: int, field: str, old: str | None, new: str, editor: str
    ) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                field_edits.insert().values(
                    referral_id=referral_id,
                    field=field,
                    old_value=old,
                    new_value=new,
                    editor=editor,
                    at=utcnow(),
                )
            )

    def field_history(self, referral_id: int) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(field_edits)
                .where(field_edits.c.referral_id == referral_id)
                .order_by(field_edits.c.at, field_edits.c.id)
            )
            return [dict(r._mapping) for r in rows]
