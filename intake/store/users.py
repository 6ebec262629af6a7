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

# A volunteer sees referrals and their screening, and contact details only of referrals they
# are assigned (`intake.web.dashboard.present`); advocates and above see everything.
ROLES = ("volunteer", "advocate", "manager", "admin")


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: str
    password_hash: str
    active: bool
    created_at: datetime | None = None
    unlocked_at: datetime | None = None
    totp: bool = False  # a confirmed second factor


@dataclass(frozen=True)
class TotpState:
    secret: str | None
    confirmed: bool
    last_step: int | None
    recovery_codes: tuple[str, ...]


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
        m["totp_confirmed_at"] is not None,
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

    def set_password_hash(self, email: str, password_hash: str, *, changed: bool = True) -> None:
        """Store a new hash. `changed` (a new password, not the same one rehashed with newer
        parameters) records when, so sessions that began before it are refused."""
        values: dict[str, Any] = {"password_hash": password_hash}
        if changed:
            values["password_changed_at"] = utcnow()
        with self.db.transaction() as conn:
            conn.execute(users.update().where(users.c.email == _email(email)).values(**values))

    def password_changed_at(self, email: str) -> datetime | None:
        with self.db.read() as conn:
            return conn.execute(
                sa.select(users.c.password_changed_at).where(users.c.email == _email(email))
            ).scalar_one_or_none()

    def all(self) -> list[User]:
        with self.db.read() as conn:
            return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.email))]

    def change(self, email: str, **values: Any) -> bool:
        """Set `active`, `role` or `unlocked_at`; False when there is no such account.
        (A new password goes through `set_password_hash`, which records when.)"""
        allowed = {"active", "role", "unlocked_at"}
        if not values or not values.keys() <= allowed:
            raise ValueError(f"only {sorted(allowed)} can be changed")
        if "role" in values and values["role"] not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        with self.db.transaction() as conn:
            done = conn.execute(
                users.update().where(users.c.email == _email(email)).values(**values)
            ).rowcount
        return bool(done)

    # -- the second factor (intake.users) ------------------------------------------------------

    def totp_state(self, email: str) -> TotpState | None:
        query = sa.select(
            users.c.totp_secret,
            users.c.totp_confirmed_at,
            users.c.totp_last_step,
            users.c.recovery_codes,
        ).where(users.c.email == _email(email))
        with self.db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return TotpState(
            row.totp_secret,
            row.totp_confirmed_at is not None,
            row.totp_last_step,
            tuple(row.recovery_codes or ()),
        )

    def set_totp(
        self,
        email: str,
        *,
        secret: str | None,
        confirmed_at: datetime | None = None,
        recovery_codes: list[str] | None = None,
    ) -> None:
        """Start (unconfirmed), confirm (with `confirmed_at` and the codes' hashes) or clear."""
        with self.db.transaction() as conn:
            conn.execute(
                users.update()
                .where(users.c.email == _email(email))
                .values(
                    totp_secret=secret,
                    totp_confirmed_at=confirmed_at,
                    totp_last_step=None,
                    recovery_codes=recovery_codes,
                )
            )

    def use_totp_step(self, email: str, step: int) -> bool:
        """Record that the code of time step `step` was used; False when it (or a later one)
        was used already (RFC 6238 section 5.2: a code is accepted once)."""
        with self.db.transaction() as conn:
            done = conn.execute(
                users.update()
                .where(
                    users.c.email == _email(email),
                    sa.or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step),
                )
                .values(totp_last_step=step)
            ).rowcount
        return bool(done)

    def use_recovery_code(self, email: str, digest: str) -> bool:
        """Spend one recovery code (by its SHA-256); False when it is not an unused one."""
        with self.db.transaction() as conn:
            codes = conn.execute(
                sa.select(users.c.recovery_codes)
                .where(users.c.email == _email(email))
                .with_for_update()  # two log-ins cannot spend one code
            ).scalar_one_or_none()
            left = [c for c in (codes or []) if c != digest]
            if codes is None or len(left) == len(codes):
                return False
            conn.execute(
                users.update().where(users.c.email == _email(email)).values(recovery_codes=left)
            )
        return True

    def record_attempt(
        self, email: str, succeeded: bool, client: str = "", device: str | None = None
    ) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                login_attempts.insert().values(
                    email=_email(email)[:320],
                    at=utcnow(),
                    succeeded=succeeded,
                    client=client[:64],
                    device=device[:64] if device else None,
                )
            )

    def recent_failures(
        self, email: str, since: datetime, *, device: str | None = None
    ) -> list[datetime]:
        """Failed attempts since `since`, since the last success and since the account was last
        unlocked, newest first.

        With `device`, only that device's attempts count (its failures since its own last
        success); without, only attempts from browsers without a device token of this account.
        """
        email = _email(email)
        mine = login_attempts.c.device == device if device else login_attempts.c.device.is_(None)
        with self.db.read() as conn:
            unlocked = conn.execute(
                sa.select(users.c.unlocked_at).where(users.c.email == email)
            ).scalar_one_or_none()
            if unlocked is not None and unlocked > since:
                since = unlocked
            last_ok = conn.execute(
                sa.select(sa.func.max(login_attempts.c.at)).where(
                    login_attempts.c.email == email, login_attempts.c.succeeded.is_(True), mine
                )
            ).scalar_one_or_none()
            query = sa.select(login_attempts.c.at).where(
                login_attempts.c.email == email,
                login_attempts.c.succeeded.is_(False),
                login_attempts.c.at >= since,
                mine,
            )
            if last_ok is not None:
                query = query.where(login_attempts.c.at > last_ok)
            return [r[0] for r in conn.execute(query.order_by(login_attempts.c.at.desc()))]

    def client_failures(self, client: str, since: datetime) -> list[datetime]:
        """Failed attempts from one client address since `since`, on any account, oldest first."""
        query = (
            sa.select(login_attempts.c.at)
            .where(
                login_attempts.c.client == client[:64],
                login_attempts.c.succeeded.is_(False),
                login_attempts.c.at >= since,
            )
            .order_by(login_attempts.c.at)
        )
        with self.db.read() as conn:
            return [r[0] for r in conn.execute(query)]
