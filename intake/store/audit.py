"""The audit trail: who saw or changed what, and when. Rows are only ever added; erasure and
retention may blank the details of a row (`redact`), never the row."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import audit_log, referrals


def audit_entry(
    actor: str, action: str, *, referral_id: int | None = None, detail: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An audit row's values, for a caller that writes it inside its own statement."""
    return {
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "referral_id": referral_id,
        "detail": detail or {},
    }


def redact(conn: Connection, where: sa.ColumnElement[bool], why: str) -> int:
    """Blank the details of the audit rows matching `where` (erasure, retention): who did what
    to which referral, and when, stay; what the details said goes. The rows changed."""
    return conn.execute(
        audit_log.update()
        .where(where, sa.not_(audit_log.c.action.like("privacy.%")))
        .values(detail={"redacted": why})
    ).rowcount


class AuditQueries(Queries):
    """Mixed into `Store`: `store.audit(...)`, `store.audit_for(...)`."""

    def audit(
        self,
        actor: str,
        action: str,
        *,
        referral_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record one entry; inside `store.transaction()` it commits with the change it records."""
        with self.db.transaction() as conn:
            conn.execute(
                audit_log.insert().values(
                    **audit_entry(actor, action, referral_id=referral_id, detail=detail)
                )
            )

    def audit_for(self, referral_id: int | None = None) -> list[dict[str, Any]]:
        """Entries oldest first; all of them, or one referral's."""
        query = sa.select(audit_log).order_by(audit_log.c.at, audit_log.c.id)
        if referral_id is not None:
            query = query.where(audit_log.c.referral_id == referral_id)
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def audit_entries(
        self, *, reference: str | None = None, limit: int | None = 500
    ) -> list[dict[str, Any]]:
        """Entries newest first with each one's referral reference (the manager's audit view)."""
        query = sa.select(audit_log, referrals.c.reference).select_from(
            audit_log.outerjoin(referrals, referrals.c.id == audit_log.c.referral_id)
        )
        if reference:
            query = query.where(referrals.c.reference == reference.strip().upper())
        query = query.order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        if limit:
            query = query.limit(limit)
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
