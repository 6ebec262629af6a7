"""Files that came with a message (email attachments today), kept with its referral.

`text` is what was extracted from a file for screening; listings leave the bytes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import sqlalchemy as sa

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import attachments


class AttachmentLike(Protocol):
    filename: str
    content_type: str
    size: int
    data: bytes
    text: str | None


_LISTED = [c for c in attachments.c if c.name not in ("data", "text")]


class Attachments(Queries):
    """`store.attachments`."""

    def save(self, referral_id: int, message_id: int, files: Iterable[AttachmentLike]) -> int:
        """Keep a message's files with its referral; on a re-run only the missing ones are added."""
        added = 0
        with self.db.transaction() as conn:
            present = set(
                conn.execute(
                    sa.select(attachments.c.position).where(attachments.c.message_id == message_id)
                ).scalars()
            )
            for position, item in enumerate(files):
                if position in present:
                    continue
                conn.execute(
                    attachments.insert().values(
                        referral_id=referral_id,
                        message_id=message_id,
                        position=position,
                        filename=item.filename[:255],
                        content_type=item.content_type[:255],
                        size=item.size,
                        data=item.data,
                        text=item.text,
                        created_at=utcnow(),
                    )
                )
                added += 1
        return added

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
