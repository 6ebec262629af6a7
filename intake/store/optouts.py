"""The SMS suppression list (STOP until START): nothing is sent to a number while it is opted out.

A change is applied only if its message is newer than the last change recorded, so a retried STOP
job that runs after the START that followed it cannot opt the person out again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import sms_optouts


class OptOuts(Queries):
    """`store.optouts`; numbers are stored as given (callers normalise them)."""

    def is_opted_out(self, phone: str) -> bool:
        with self.db.read() as conn:
            value = conn.execute(
                sa.select(sms_optouts.c.opted_out).where(sms_optouts.c.phone == phone)
            ).scalar_one_or_none()
        return bool(value)

    def status(self, phone: str) -> dict[str, Any] | None:
        """The stored choice for a number (`opted_out`, `keyword`, `changed_at` ...), if any."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(sms_optouts).where(sms_optouts.c.phone == phone)).first()
        return dict(row._mapping) if row else None

    def record(
        self, phone: str, *, opted_out: bool, keyword: str, provider_id: str, at: datetime
    ) -> bool:
        """Store a STOP or START; False when a newer change is already stored (a stale retry)."""
        values = {
            "opted_out": opted_out,
            "keyword": keyword[:32],
            "provider_id": provider_id[:255],
            "changed_at": at,
            "updated_at": utcnow(),
        }
        current = sa.select(sms_optouts.c.changed_at, sms_optouts.c.provider_id).where(
            sms_optouts.c.phone == phone
        )
        with self.db.transaction() as conn:
            found = conn.execute(current).first()
            if found is None:
                try:
                    with conn.begin_nested():
                        conn.execute(sms_optouts.insert().values(phone=phone, **values))
                    return True
                except IntegrityError:
                    found = conn.execute(current).first()
                    assert found is not None
            if found.provider_id == provider_id:
                return True  # this very message, again
            if found.changed_at > at:
                return False
            conn.execute(sms_optouts.update().where(sms_optouts.c.phone == phone).values(**values))
        return True
