"""Files that came with a message (email attachments today), kept with its referral.

They are written with their message (`ReferralQueries.create_referral`, `add_message`), in the
same transaction. `text` is what was extracted from a file for screening; listings leave the
bytes out.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from intake.store.database import Queries
from intake.store.schema import attachments

_LISTED = [c for c in attachments.c if c.name not in ("data", "text")]


class Attachments(Queries):
    """`store.attachments`."""

    def for_referral(self, referral_id: int) -> list[dict[str, Any]]:
        """A referral's files without their bytes, in message order (with the extracted text)."""
        columns = [c for c in attachments.c if c.name != "data"]
        query = (
            sa.select(*columns)
            .where(attachments.c.referral_id == referral_id)
            .order_by(attachments.c.message_id, attachments.c.position)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def for_message(self, message_id: int) -> list[dict[str, Any]]:
        """One message's files for a listing: no bytes, no extracted text."""
        query = (
            sa.select(*_LISTED)
            .where(attachments.c.message_id == message_id)
            .order_by(attachments.c.position)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def get(self, attachment_id: int, *, referral_id: int | None = None) -> dict[str, Any] | None:
        """One file with its bytes; with `referral_id`, only if it belongs to that referral."""
        query = sa.select(attachments).where(attachments.c.id == attachment_id)
        if referral_id is not None:
            query = query.where(attachments.c.referral_id == referral_id)
        with self.db.read() as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row else None
