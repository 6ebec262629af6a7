"""The audit trail: who saw or changed what, and when. Rows are only ever added; erasure and
retention may blank the details of a row (`redact`), never the row.

**The hash chain.** `seal` gives every row not yet sealed, in id order, the next `seq`, the
SHA-256 of its details (`digest`), the previous sealed row's hash (`prev_hash`) and its own
(`row_hash` = SHA-256 of seq, time, actor, action, referral, digest and prev_hash). Because the
hash covers the digest rather than the details, a row's details can later be redacted (by
erasure or retention, which only ever replace them with `{"redacted": ...}`) and the chain still
verifies; any other change to a sealed row, a deleted row in the middle or a row moved shows as
the first broken link (`verify`). Rows are sealed after they are written, not as they are
written, so no transaction that writes an audit row ever waits for another (the pipeline's
writes stay concurrent); the clock seals every minute and erasure and retention seal when they
finish. A database administrator able to rewrite the table could recompute the whole chain:
keep the head hash `intake privacy verify-audit` prints somewhere else (a ticket, an email) to
anchor it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
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


REDACTED = "redacted"
SEAL_BATCH = 1000
# pg_advisory_xact_lock key: one sealer at a time (SQLite's write lock does this there).
SEAL_LOCK = 0x1A7D17


def digest_of(detail: Any) -> str:
    """SHA-256 (hex) of a row's details as canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def link_hash(row: dict[str, Any], digest: str, prev_hash: str) -> str:
    """A sealed row's hash: over its place, time, actor, action, referral and digest, and the
    previous row's hash (the empty string before the first)."""
    at = row["at"].isoformat() if row["at"] is not None else ""
    parts = [
        str(row["seq"]),
        at,
        row["actor"],
        row["action"],
        str(row["referral_id"] or ""),
        digest,
        prev_hash,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def is_redacted(detail: Any) -> bool:
    return isinstance(detail, dict) and set(detail) == {REDACTED}


@dataclass(frozen=True)
class ChainReport:
    """`verify`'s answer: rows checked, the first broken link (None when whole), the rows not
    sealed yet, the head hash (to keep elsewhere), the first seq checked (above 1 when retention
    removed older rows)."""

    checked: int
    broken: str | None
    broken_id: int | None
    unsealed: int
    head: str | None
    first_seq: int | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def redact(conn: Connection, where: sa.ColumnElement[bool], why: str) -> int:
    """Blank the details of the audit rows matching `where` (erasure, retention): who did what
    to which referral, and when, stay; what the details said goes. The rows changed."""
    return conn.execute(
        audit_log.update()
        .where(where, sa.not_(audit_log.c.action.like("privacy.%")))
        .values(detail={REDACTED: why})
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

    # -- the hash chain (see the module docstring) ------------------------------------------

    def seal(self) -> int:
        """Seal every row not sealed yet, oldest id first; how many were sealed."""
        sealed = 0
        while True:
            with self.db.transaction() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEAL_LOCK})
                last = conn.execute(
                    sa.select(audit_log.c.seq, audit_log.c.row_hash)
                    .where(audit_log.c.seq.is_not(None))
                    .order_by(audit_log.c.seq.desc())
                    .limit(1)
                ).first()
                seq, prev = (last.seq, last.row_hash) if last else (0, "")
                rows = conn.execute(
                    sa.select(audit_log)
                    .where(audit_log.c.seq.is_(None))
                    .order_by(audit_log.c.id)
                    .limit(SEAL_BATCH)
                ).all()
                for row in rows:
                    seq += 1
                    values = {**row._mapping, "seq": seq}
                    digest = digest_of(row.detail)
                    own = link_hash(values, digest, prev)
                    conn.execute(
                        audit_log.update()
                        .where(audit_log.c.id == row.id)
                        .values(seq=seq, digest=digest, prev_hash=prev, row_hash=own)
                    )
                    prev = own
            sealed += len(rows)
            if len(rows) < SEAL_BATCH:
                return sealed

    def verify(self) -> ChainReport:
        """Check every sealed row in `seq` order (see the module docstring)."""
        checked, head, first, expected_prev = 0, None, None, None
        after = 0
        with self.db.read() as conn:
            unsealed = conn.execute(
                sa.select(sa.func.count()).select_from(audit_log).where(audit_log.c.seq.is_(None))
            ).scalar_one()
            while True:
                rows = conn.execute(
                    sa.select(audit_log)
                    .where(audit_log.c.seq > after)
                    .order_by(audit_log.c.seq)
                    .limit(SEAL_BATCH)
                ).all()
                for row in rows:
                    m = dict(row._mapping)
                    if first is None:
                        first = m["seq"]
                        # retention may have removed older rows: the first kept row's own
                        # prev_hash anchors the rest
                        expected_prev = m["prev_hash"] or ""
                    elif m["seq"] != after + 1:
                        return self._broken(
                            checked, f"row seq {after + 1} is missing", m, unsealed, first
                        )
                    if m["prev_hash"] != expected_prev:
                        return self._broken(
                            checked, "its previous hash does not match", m, unsealed, first
                        )
                    if not is_redacted(m["detail"]) and digest_of(m["detail"]) != m["digest"]:
                        return self._broken(checked, "its details were changed", m, unsealed, first)
                    if link_hash(m, m["digest"] or "", m["prev_hash"] or "") != m["row_hash"]:
                        return self._broken(checked, "it was changed", m, unsealed, first)
                    expected_prev = head = m["row_hash"]
                    after = m["seq"]
                    checked += 1
                if len(rows) < SEAL_BATCH:
                    break
        return ChainReport(checked, None, None, unsealed, head, first)

    @staticmethod
    def _broken(
        checked: int, why: str, row: dict[str, Any], unsealed: int, first: int | None
    ) -> ChainReport:
        return ChainReport(
            checked,
            f"seq {row['seq']} (audit id {row['id']}): {why}",
            row["id"],
            unsealed,
            None,
            first,
        )
