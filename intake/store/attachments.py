"""Files that came with a message (email attachments, MMS media), kept with its referral.

They are written with their message (`ReferralQueries.create_referral`, `add_message`), in the
same transaction. `text` is what was extracted from a file for screening; listings leave the
bytes out.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from intake.models import Attachment, utcnow
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

    def to_read(self, message_id: int) -> list[dict[str, Any]]:
        """One message's files with their bytes whose text was never read (`text` is NULL;
        a file that was read and said nothing has ""), in order."""
        query = (
            sa.select(attachments)
            .where(attachments.c.message_id == message_id, attachments.c.text.is_(None))
            .order_by(attachments.c.position)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def texts(self, message_id: int) -> list[tuple[str, str | None]]:
        """(file name, text) of one message's files, in order."""
        query = (
            sa.select(attachments.c.filename, attachments.c.text)
            .where(attachments.c.message_id == message_id)
            .order_by(attachments.c.position)
        )
        with self.db.read() as conn:
            return [(row.filename, row.text) for row in conn.execute(query)]

    def set_text(self, attachment_id: int, text: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                attachments.update().where(attachments.c.id == attachment_id).values(text=text)
            )

    def add(self, referral_id: int, message_id: int, item: Attachment) -> int:
        """A file found inside another (a winmail.dat's), after the message's last file."""
        with self.db.transaction() as conn:
            last = conn.execute(
                sa.select(sa.func.max(attachments.c.position)).where(
                    attachments.c.message_id == message_id
                )
            ).scalar_one_or_none()
            return int(
                conn.execute(
                    attachments.insert()
                    .values(
                        referral_id=referral_id,
                        message_id=message_id,
                        position=(last if last is not None else -1) + 1,
                        filename=item.filename[:255],
                        content_type=item.content_type[:255],
                        size=item.size,
                        data=item.data,
                        text=item.text if item.text is not None else "",
                        created_at=utcnow(),
                    )
                    .returning(attachments.c.id)
                ).scalar_one()
            )
