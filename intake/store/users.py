"""Staff accounts and their log-in attempts (the dashboard's users)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import login_attempts, users

ROLES = ("advocate", "manager", "admin")


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: str
    password_hash: str
    active: bool
    created_at: datetime | None = None
    unlocked_at: datetime | None = None
    session_epoch: int = 0


class UserExists(Exception):
    """An account with that email already exists."""


def _user(row: sa.Row[Any]) -> User:
    m = row._mapping
    return User(
        m["id"],
        m["email"],
        m["role"],
        m["password_hash"],
        bool(m["active"]),
        m["created_at"],
        m["unlocked_at"],
        int(m["session_epoch"] or 0),
    )


def _email(value: str) -> str:
    return value.strip().lower()


class Users(Queries):
    """`store.users`; emails are compared in lower case."""

    def add(self, email: str, password_hash: str, role: str) -> User:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        try:
            with self.db.attempt() as conn:
                conn.execute(
                    users.insert().values(
                        email=_email(email),
                        password_hash=password_hash,
                        role=role,
                        active=True,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError as exc:
            raise UserExists(email) from exc
        found = self.get(email)
        assert found is not None
        return found

    def get(self, email: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(users).where(users.c.email == _email(email))).first()
        return _user(row) if row else None

    def set_password_hash(self, email: str, password_hash: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                users.update()
                .where(users.c.email == _email(email))
                .values(password_hash=password_hash)
            )

    def all(self) -> list[User]:
        with self.db.read() as conn:
            return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.email))]

    def change(self, email: str, **values: Any) -> bool:
        """Set `active`, `role`, `password_hash` or `unlocked_at`; False when there is no
        such account."""
        allowed = {"active", "role", "password_hash", "unlocked_at"}
        if not values or not values.keys() <= allowed:
            raise ValueError(f"only {sorted(allowed)} can be changed")
        if "role" in values and values["role"] not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        with self.db.transaction() as conn:
            done = conn.execute(
                users.update().where(users.c.email == _email(email)).values(**values)
            ).rowcount
        return bool(done)

    def end_sessions(self, email: str) -> None:
        """Raise the account's session epoch: sessions made under the old one are refused."""
        with self.db.transaction() as conn:
            conn.execute(
                users.update()
                .where(users.c.email == _email(email))
                .values(session_epoch=users.c.session_epoch + 1)
            )

    def record_attempt(self, email: str, succeeded: bool, client: str = "") -> None:
        with self.db.transaction() as conn:
            conn.execute(
                login_attempts.insert().values(
                    email=_email(email)[:320], at=utcnow(), succeeded=succeeded, client=client[:64]
                )
            )

    def recent_failures(self, email: str, since: datetime) -> list[datetime]:
        """Failed attempts since `since`, since the last success and since the account was last
        unlocked, newest first."""
        email = _email(email)
        with self.db.read() as conn:
            unlocked = conn.execute(
                sa.select(users.c.unlocked_at).where(users.c.email == email)
            ).scalar_one_or_none()
            if unlocked is not None and unlocked > since:
                since = unlocked
            last_ok = conn.execute(
                sa.select(sa.func.max(login_attempts.c.at)).where(
                    login_attempts.c.email == email, login_attempts.c.succeeded.is_(True)
                )
            ).scalar_one_or_none()
            query = sa.select(login_attempts.c.at).where(
                login_attempts.c.email == email,
                login_attempts.c.succeeded.is_(False),
                login_attempts.c.at >= since,
            )
            if last_ok is not None:
                query = query.where(login_attempts.c.at > last_ok)
            return [r[0] for r in conn.execute(query.order_by(login_attempts.c.at.desc()))]
