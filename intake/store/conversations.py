"""SMS conversations: one row per SMS referral, with the questions asked so far.

A later text from the same number joins the referral while its conversation is open
(`channels/sms/conversation.py` decides when that is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import utcnow
from intake.store.audit import audit_entry
from intake.store.database import Queries
from intake.store.schema import audit_log, referrals, sms_conversations


@dataclass(frozen=True)
class Conversation:
    referral_id: int
    phone: str
    asked: list[str]
    pending: str | None
    stopped: str | None
    last_activity_at: datetime


def _row(row: sa.Row[Any]) -> Conversation:
    m = row._mapping
    return Conversation(
        referral_id=m["referral_id"],
        phone=m["phone"],
        asked=list(m["asked"] or []),
        pending=m["pending"],
        stopped=m["stopped"],
        last_activity_at=m["last_activity_at"],
    )


class Conversations(Queries):
    """`store.conversations`."""

    def get(self, referral_id: int) -> Conversation | None:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(sms_conversations).where(sms_conversations.c.referral_id == referral_id)
            ).first()
        return _row(row) if row else None

    def latest(
        self, phone: str, *, active_since: datetime, include_closed: bool = False
    ) -> Conversation | None:
        """The newest conversation with `phone` active since `active_since`.

        Closed referrals are left out unless `include_closed`.
        """
        query = (
            sa.select(sms_conversations)
            .join(referrals, referrals.c.id == sms_conversations.c.referral_id)
            .where(
                sms_conversations.c.phone == phone,
                sms_conversations.c.last_activity_at >= active_since,
            )
            .order_by(sms_conversations.c.last_activity_at.desc())
            .limit(1)
        )
        if not include_closed:
            query = query.where(referrals.c.status != "closed")
        with self.db.read() as conn:
            row = conn.execute(query).first()
        return _row(row) if row else None

    def start(self, referral_id: int, phone: str, at: datetime) -> Conversation:
        """The referral's conversation, made if it has none yet."""
        found = self.get(referral_id)
        if found is not None:
            return found
        made = Conversation(referral_id, phone, [], None, None, at)
        try:
            with self.db.attempt() as conn:
                conn.execute(
                    sms_conversations.insert().values(
                        referral_id=referral_id,
                        phone=phone,
                        asked=[],
                        pending=None,
                        stopped=None,
                        last_activity_at=at,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            found = self.get(referral_id)  # another run made it between the read and the insert
            assert found is not None
            return found
        return made

    def update(
        self,
        conv: Conversation,
        *,
        at: datetime | None = None,
        audit: tuple[str, str, dict[str, Any]] | None = None,
        **values: Any,
    ) -> None:
        """Change a conversation; `at` moves its last activity forward (never back).

        `audit` is (actor, action, detail) for an entry written in the same transaction.
        """
        if at is not None:
            values["last_activity_at"] = max(conv.last_activity_at, at)
        with self.db.transaction() as conn:
            conn.execute(
                sms_conversations.update()
                .where(sms_conversations.c.referral_id == conv.referral_id)
                .values(**values)
            )
            if audit is not None:
                actor, action, detail = audit
                entry = audit_entry(actor, action, referral_id=conv.referral_id, detail=detail)
                conn.execute(audit_log.insert().values(**entry))
