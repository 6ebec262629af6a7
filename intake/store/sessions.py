"""Dashboard sessions: one row per log-in, ended on log-out, password change or account disable.

The token itself is never stored, only its SHA-256 (`token_hash`): the callers hash it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import sessions, users


@dataclass(frozen=True)
class Session:
    """A stored session with what its check needs of its account (`active`, when the password
    last changed); `ended_at` is None while it is live."""

    id: int
    email: str
    client: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    ended_reason: str | None
    user_active: bool | None
    password_changed_at: datetime | None


def _session(row: sa.Row[Any]) -> Session:
    m = row._mapping
    return Session(
        id=m["id"],
        email=m["email"],
        client=m["client"],
        created_at=m["created_at"],
        last_seen_at=m["last_seen_at"],
        expires_at=m["expires_at"],
        ended_at=m["ended_at"],
        ended_reason=m["ended_reason"],
        user_active=None if m["active"] is None else bool(m["active"]),
        password_changed_at=m["password_changed_at"],
    )


class Sessions(Queries):
    """`store.sessions`; emails are compared in lower case."""

    def start(self, token_hash: str, email: str, client: str, expires_at: datetime) -> None:
        now = utcnow()
        with self.db.transaction() as conn:
            conn.execute(
                sessions.insert().values(
                    token_hash=token_hash,
                    email=email.strip().lower(),
                    client=client[:64],
                    created_at=now,
                    last_seen_at=now,
                    expires_at=expires_at,
                )
            )

    def get(self, token_hash: str) -> Session | None:
        """The session and its account as they are now (None: no such session)."""
        query = (
            sa.select(
                sessions,
                users.c.active,
                users.c.password_changed_at,
            )
            .select_from(sessions.outerjoin(users, users.c.email == sessions.c.email))
            .where(sessions.c.token_hash == token_hash)
        )
        with self.db.read() as conn:
            row = conn.execute(query).first()
        return _session(row) if row else None

    def touch(self, token_hash: str, at: datetime) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                sessions.update()
                .where(sessions.c.token_hash == token_hash, sessions.c.ended_at.is_(None))
                .values(last_seen_at=at)
            )

    def end(self, token_hash: str, reason: str) -> bool:
        """End one session; False when it had ended already (or never was)."""
        with self.db.transaction() as conn:
            done = conn.execute(
                sessions.update()
                .where(sessions.c.token_hash == token_hash, sessions.c.ended_at.is_(None))
                .values(ended_at=utcnow(), ended_reason=reason[:32])
            )
        return bool(done.rowcount)

    def end_all(self, email: str, reason: str) -> int:
        """End every live session of an account; how many there were."""
        with self.db.transaction() as conn:
            done = conn.execute(
                sessions.update()
                .where(sessions.c.email == email.strip().lower(), sessions.c.ended_at.is_(None))
                .values(ended_at=utcnow(), ended_reason=reason[:32])
            )
        return int(done.rowcount or 0)

    def live(self, email: str) -> list[Session]:
        """An account's sessions that have not ended (expired ones included), newest first."""
        query = (
            sa.select(sessions, users.c.active, users.c.password_changed_at)
            .select_from(sessions.outerjoin(users, users.c.email == sessions.c.email))
            .where(sessions.c.email == email.strip().lower(), sessions.c.ended_at.is_(None))
            .order_by(sessions.c.created_at.desc())
        )
        with self.db.read() as conn:
            return [_session(row) for row in conn.execute(query)]

    def purge(self, before: datetime) -> int:
        """Delete sessions that ended or expired before `before` (nothing to revoke any more)."""
        with self.db.transaction() as conn:
            done = conn.execute(
                sessions.delete().where(
                    sa.or_(sessions.c.ended_at < before, sessions.c.expires_at < before)
                )
            )
        return int(done.rowcount or 0)
