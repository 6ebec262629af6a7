"""Mail that is not a referral (out-of-office replies, bounces), recorded and never answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import mail_events

MAX_DETAIL_CHARS = 4000


class MailEvents(Queries):
    """`store.mail_events`."""

    def record(
        self,
        *,
        provider_id: str,
        kind: str,
        sender: str,
        recipient: str,
        subject: str,
        reason: str,
        detail: str,
        received_at: datetime,
        referral_id: int | None,
    ) -> bool:
        """Record one; False when this Message-ID was recorded before (a re-run)."""
        try:
            with self.db.attempt() as conn:
                conn.execute(
                    mail_events.insert().values(
                        provider_id=provider_id[:255],
                        kind=kind,
                        referral_id=referral_id,
                        sender=sender[:320],
                        recipient=recipient[:320],
                        subject=subject,
                        reason=reason,
                        detail=detail[:MAX_DETAIL_CHARS],
                        received_at=received_at,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def recorded(self, referral_id: int | None = None) -> list[dict[str, Any]]:
        """Recorded events oldest first; all of them, or those tied to one referral."""
        query = sa.select(mail_events).order_by(mail_events.c.received_at, mail_events.c.id)
        if referral_id is not None:
            query = query.where(mail_events.c.referral_id == referral_id)
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
