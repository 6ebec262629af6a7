"""The dashboard's own tables: staff accounts, log-in attempts, and what advocates do to referrals.

Kept apart from `intake.store` so the intake pipeline never depends on the dashboard. The tables
sit on the shared `metadata`, so `Store.create_schema()` creates them with the rest. Claims,
triage and outcomes live in `referral_work` (one row per referral, made on first touch); notes and
field edits are append-only, so the page can always say who changed what and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import Referral, utcnow
from intake.store import Store, UTCDateTime, _row_to_referral, metadata, referrals

ROLES = ("advocate", "manager", "admin")

users = sa.Table(
    "dashboard_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

login_attempts = sa.Table(
    "dashboard_login_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("succeeded", sa.Boolean, nullable=False),
    sa.Column("client", sa.String(64), nullable=False, default=""),
    sa.Index("ix_login_attempts_email", "email", "at"),
)

referral_work = sa.Table(
    "dashboard_referral_work",
    metadata,
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), primary_key=True),
    sa.Column("claimed_by", sa.String(320), nullable=True),
    sa.Column("claimed_at", UTCDateTime, nullable=True),
    sa.Column("triaged_by", sa.String(320), nullable=True),
    sa.Column("triaged_at", UTCDateTime, nullable=True),
    sa.Column("outcome", sa.String(64), nullable=True),
    sa.Column("closed_by", sa.String(320), nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
)

notes = sa.Table(
    "dashboard_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("author", sa.String(320), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Index("ix_dashboard_notes_referral", "referral_id"),
)

field_edits = sa.Table(
    "dashboard_field_edits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("old_value", sa.Text, nullable=True),
    sa.Column("new_value", sa.Text, nullable=True),
    sa.Column("editor", sa.String(320), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Index("ix_dashboard_field_edits_referral", "referral_id"),
)

# Status filter values the queue offers; "active" is everything not closed.
STATUS_FILTERS = ("active", "open", "triaged", "closed", "all")


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: str
    password_hash: str
    active: bool


@dataclass(frozen=True)
class QueueRow:
    referral: Referral
    claimed_by: str | None
    triaged_at: datetime | None
    outcome: str | None


class UserExists(Exception):
    """An account with that email already exists."""


def _user(row: sa.Row[Any]) -> User:
    m = row._mapping
    return User(m["id"], m["email"], m["role"], m["password_hash"], bool(m["active"]))


class DashboardStore:
    """Queries the dashboard needs, over the same engine as `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    # -- users ------------------------------------------------------------------------------

    def add_user(self, email: str, password_hash: str, role: str) -> User:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    users.insert().values(
                        email=email.strip().lower(),
                        password_hash=password_hash,
                        role=role,
                        active=True,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError as exc:
            raise UserExists(email) from exc
        found = self.get_user(email)
        assert found is not None
        return found

    def get_user(self, email: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users).where(users.c.email == email.strip().lower())
            ).first()
        return _user(row) if row else None

    def set_password_hash(self, email: str, password_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                users.update()
                .where(users.c.email == email.strip().lower())
                .values(password_hash=password_hash)
            )

    def record_attempt(self, email: str, succeeded: bool, client: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(
                login_attempts.insert().values(
                    email=email.strip().lower()[:320],
                    at=utcnow(),
                    succeeded=succeeded,
                    client=client[:64],
                )
            )

    def recent_failures(self, email: str, since: datetime) -> list[datetime]:
        """Failed attempts since `since` and since the last success, newest first."""
        email = email.strip().lower()
        with self.engine.connect() as conn:
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

    # -- the queue --------------------------------------------------------------------------

    def queue(
        self,
        *,
        status: str = "active",
        urgency: str | None = None,
        category: str | None = None,
        channel: str | None = None,
        search: str | None = None,
        limit: int = 200,
    ) -> list[QueueRow]:
        """Most urgent first, then oldest first, with who has claimed each referral."""
        query = sa.select(
            referrals,
            referral_work.c.claimed_by,
            referral_work.c.triaged_at,
            referral_work.c.outcome,
        ).select_from(
            referrals.outerjoin(referral_work, referral_work.c.referral_id == referrals.c.id)
        )
        if status == "active":
            query = query.where(referrals.c.status != "closed")
        elif status and status != "all":
            query = query.where(referrals.c.status == status)
        if urgency:
            query = query.where(referrals.c.urgency == urgency)
        if channel:
            query = query.where(referrals.c.channel == channel)
        if category:
            query = query.where(
                sa.cast(referrals.c.safeguarding, sa.Text).like(f'%"{_like(category)}"%', "\\")
            )
        if search and search.strip():
            query = query.where(_search_clause(search.strip()))
        query = query.order_by(
            referrals.c.urgency_rank, referrals.c.received_at, referrals.c.id
        ).limit(limit)
        with self.engine.connect() as conn:
            return [
                QueueRow(
                    _row_to_referral(row),
                    row._mapping["claimed_by"],
                    row._mapping["triaged_at"],
                    row._mapping["outcome"],
                )
                for row in conn.execute(query)
            ]

    def categories_in_use(self) -> list[str]:
        with self.engine.connect() as conn:
            values = conn.execute(sa.select(referrals.c.safeguarding)).scalars()
            return sorted({c for cats in values for c in (cats or [])})

    # -- work on one referral ---------------------------------------------------------------

    def work(self, referral_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(referral_work).where(referral_work.c.referral_id == referral_id)
            ).first()
        if row:
            return dict(row._mapping)
        return {c.name: None for c in referral_work.c} | {"referral_id": referral_id}

    def _set_work(self, referral_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            updated = conn.execute(
                referral_work.update()
                .where(referral_work.c.referral_id == referral_id)
                .values(**values)
            ).rowcount
            if not updated:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            referral_work.insert().values(referral_id=referral_id, **values)
                        )
                except IntegrityError:  # someone else made the row a moment ago
                    conn.execute(
                        referral_work.update()
                        .where(referral_work.c.referral_id == referral_id)
                        .values(**values)
                    )

    def claim(self, referral_id: int, user: str) -> None:
        self._set_work(referral_id, claimed_by=user, claimed_at=utcnow())

    def unclaim(self, referral_id: int) -> None:
        self._set_work(referral_id, claimed_by=None, claimed_at=None)

    def mark_triaged(self, referral_id: int, user: str) -> None:
        self._set_work(referral_id, triaged_by=user, triaged_at=utcnow())
        self.store.update_referral(referral_id, status="triaged")

    def close(self, referral_id: int, user: str, outcome: str) -> None:
        self._set_work(referral_id, outcome=outcome, closed_by=user, closed_at=utcnow())
        self.store.update_referral(referral_id, status="closed")

    def add_note(self, referral_id: int, author: str, body: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                notes.insert().values(
                    referral_id=referral_id, author=author, body=body, at=utcnow()
                )
            )

    def notes_for(self, referral_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(notes).where(notes.c.referral_id == referral_id).order_by(notes.c.at)
            )
            return [dict(r._mapping) for r in rows]

    def edit_field(
        self, referral: Referral, name: str, value: str, editor: str, *, values: dict[str, Any]
    ) -> bool:
        """Change one extracted field; `values` is the flat field map the page showed.

        Returns False when nothing changed. The edit is written into the referral's `fields`
        document (under `fields` when extraction nests them there) and into the history table.
        """
        assert referral.id is not None
        old = values.get(name)
        old_text = "" if old is None else str(old)
        if old_text == value:
            return False
        document = dict(referral.fields)
        if isinstance(document.get("fields"), dict):
            document["fields"] = {**document["fields"], name: value}
        else:
            document[name] = value
        self.store.update_referral(referral.id, fields=document)
        with self.engine.begin() as conn:
            conn.execute(
                field_edits.insert().values(
                    referral_id=referral.id,
                    field=name,
                    old_value=None if old is None else old_text,
                    new_value=value,
                    editor=editor,
                    at=utcnow(),
                )
            )
        referral.fields = document
        return True

    def field_history(self, referral_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(field_edits)
                .where(field_edits.c.referral_id == referral_id)
                .order_by(field_edits.c.at, field_edits.c.id)
            )
            return [dict(r._mapping) for r in rows]

    def unclaimed_open(self, urgency: str) -> list[Referral]:
        """Open referrals of one urgency that nobody has claimed (for SLA alerting)."""
        query = (
            sa.select(referrals)
            .select_from(
                referrals.outerjoin(referral_work, referral_work.c.referral_id == referrals.c.id)
            )
            .where(
                referrals.c.status == "open",
                referrals.c.urgency == urgency,
                referral_work.c.claimed_by.is_(None),
            )
            .order_by(referrals.c.received_at)
        )
        with self.engine.connect() as conn:
            return [_row_to_referral(r) for r in conn.execute(query)]

    # -- audit ------------------------------------------------------------------------------

    def audit_entries(
        self, *, reference: str | None = None, limit: int | None = 500
    ) -> list[dict[str, Any]]:
        from intake.store import audit_log

        query = sa.select(audit_log, referrals.c.reference).select_from(
            audit_log.outerjoin(referrals, referrals.c.id == audit_log.c.referral_id)
        )
        if reference:
            query = query.where(referrals.c.reference == reference.strip().upper())
        query = query.order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_clause(term: str) -> sa.ColumnElement[bool]:
    """Reference, sender, or any extracted field (name, phone, email) containing the term.

    A UK phone number typed as `07700 900123` is also looked for as `+447700900123`, the form
    Twilio gives and the extractor stores.
    """
    needles = {term}
    try:
        number = phonenumbers.parse(term, "GB")
        if phonenumbers.is_possible_number(number):
            needles.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        pass
    clauses = []
    for needle in needles:
        pattern = f"%{_like(needle.lower())}%"
        clauses += [
            sa.func.lower(referrals.c.reference).like(pattern, "\\"),
            sa.func.lower(referrals.c.sender).like(pattern, "\\"),
            sa.func.lower(sa.cast(referrals.c.fields, sa.Text)).like(pattern, "\\"),
        ]
    return sa.or_(*clauses)


def since(minutes: int) -> datetime:
    return utcnow() - timedelta(minutes=minutes)
