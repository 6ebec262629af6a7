"""The database: referrals, their messages, what was sent back, and the audit trail.

SQLAlchemy Core over SQLite (the embedded default) or PostgreSQL (`DATABASE_URL`). Durable
idempotency lives here, not in Redis: `(channel, provider_id)` is unique on messages and
`dedupe_key` is unique on outbound messages, so a redelivered webhook or a retried job can never
create a second referral or send a second acknowledgement.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from intake.models import URGENCY_RANK, InboundMessage, Referral, utcnow

log = logging.getLogger(__name__)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive ones otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

referrals = sa.Table(
    "referrals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("reference", sa.String(16), nullable=False, unique=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("sender", sa.String(320), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("raw_text", sa.Text, nullable=False, default=""),
    sa.Column("urgency", sa.String(16), nullable=False, default="routine"),
    sa.Column("urgency_rank", sa.Integer, nullable=False, default=2),
    sa.Column("safeguarding", sa.JSON, nullable=False, default=list),
    sa.Column("screening", sa.JSON, nullable=False, default=dict),
    sa.Column("fields", sa.JSON, nullable=False, default=dict),
    sa.Column("status", sa.String(24), nullable=False, default="open"),
    sa.Column("forward_status", sa.String(24), nullable=False, default="pending"),
    sa.Column("safe_to_contact", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    sa.Index("ix_referrals_queue", "status", "urgency_rank", "received_at"),
    sa.Index("ix_referrals_sender", "sender"),
    # Duplicate matching reads the newest open referrals within the merge window
    # (`intake.merge._candidates`): a range on received_at, newest first, at most 500 rows.
    sa.Index("ix_referrals_received", "received_at"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("provider_id", sa.String(255), nullable=False),
    sa.Column("sender", sa.String(320), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False, default=""),
    sa.Column("body", sa.Text, nullable=False, default=""),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("meta", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.UniqueConstraint("channel", "provider_id", name="uq_messages_provider"),
    sa.Index("ix_messages_referral", "referral_id"),
)

outbound = sa.Table(
    "outbound",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=True),
    sa.Column("kind", sa.String(24), nullable=False),  # ack, question, alert, reply
    sa.Column("dedupe_key", sa.String(255), nullable=True, unique=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("body", sa.Text, nullable=False, default=""),
    sa.Column("status", sa.String(16), nullable=False, default="sending"),
    sa.Column("provider_id", sa.String(255), nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    sa.Index("ix_outbound_referral", "referral_id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("actor", sa.String(320), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=True),
    sa.Column("detail", sa.JSON, nullable=False, default=dict),
    sa.Index("ix_audit_referral", "referral_id", "at"),
)

# Files that came with a message (email attachments: referral forms, photos), kept with the
# referral so the dashboard can offer them; `text` is what was extracted for screening.
attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.UniqueConstraint("message_id", "position", name="uq_attachments_position"),
    sa.Index("ix_attachments_referral", "referral_id"),
)

# Mail that is not a referral (out-of-office replies, bounces): recorded so a person can see
# that an acknowledgement bounced, never turned into a referral or answered.
mail_events = sa.Table(
    "mail_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("provider_id", sa.String(255), nullable=False, unique=True),
    sa.Column("kind", sa.String(24), nullable=False),  # auto_reply, bounce
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=True),
    sa.Column("sender", sa.String(320), nullable=False, default=""),
    sa.Column("recipient", sa.String(320), nullable=False, default=""),
    sa.Column("subject", sa.Text, nullable=False, default=""),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Index("ix_mail_events_referral", "referral_id"),
)


# Phone calls to the voicemail line, one row per Twilio CallSid (issue 4). A call becomes a
# referral when it leaves a voicemail or chooses the emergency menu option; hang-ups and
# recordings under a couple of seconds stay here as `missed` calls for the call-back list.
voice_calls = sa.Table(
    "voice_calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("call_sid", sa.String(64), nullable=False, unique=True),
    sa.Column("sender", sa.String(64), nullable=False, default=""),
    sa.Column("recipient", sa.String(64), nullable=False, default=""),
    sa.Column("withheld", sa.Boolean, nullable=False, default=False),
    sa.Column("outcome", sa.String(16), nullable=False, default="in_progress"),
    sa.Column("call_status", sa.String(24), nullable=False, default=""),
    sa.Column("call_duration", sa.Integer, nullable=True),
    sa.Column("menu_choice", sa.String(16), nullable=True),
    sa.Column("recording_sid", sa.String(64), nullable=True),
    sa.Column("recording_url", sa.Text, nullable=True),
    sa.Column("recording_duration", sa.Integer, nullable=True),
    sa.Column("recording_at", UTCDateTime, nullable=True),
    sa.Column("transcript", sa.Text, nullable=True),
    sa.Column("transcript_status", sa.String(16), nullable=True),
    sa.Column("transcript_engine", sa.String(32), nullable=True),
    sa.Column("called_back_at", UTCDateTime, nullable=True),
    sa.Column("called_back_by", sa.String(320), nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    sa.Index("ix_voice_calls_outcome", "outcome", "started_at"),
)


# SMS conversations (issue 6): one row per SMS referral, so a later text from the same number
# within the window joins it and the questions asked so far are known (`intake.conversation`).
sms_conversations = sa.Table(
    "sms_conversations",
    metadata,
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), primary_key=True),
    sa.Column("phone", sa.String(64), nullable=False),
    sa.Column("asked", sa.JSON, nullable=False, default=list),
    sa.Column("pending", sa.String(32), nullable=True),
    sa.Column("stopped", sa.String(32), nullable=True),
    sa.Column("last_activity_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Index("ix_sms_conversations_phone", "phone", "last_activity_at"),
)

# Our own SMS suppression list (STOP ... START), kept even though Twilio keeps one: nothing is
# sent to a number while `opted_out` is true (`intake.optout`, checked in `intake.outbound`).
sms_optouts = sa.Table(
    "sms_optouts",
    metadata,
    sa.Column("phone", sa.String(64), primary_key=True),
    sa.Column("opted_out", sa.Boolean, nullable=False),
    sa.Column("keyword", sa.String(32), nullable=False, default=""),
    sa.Column("provider_id", sa.String(255), nullable=False, default=""),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
)

# Possible duplicates a person should look at (same name and postcode, different contact ...):
# linked, never merged automatically (`intake.merge`).
referral_links = sa.Table(
    "referral_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("other_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="suggested"),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("decided_by", sa.String(320), nullable=True),
    sa.UniqueConstraint("referral_id", "other_id", name="uq_referral_links_pair"),
    sa.Index("ix_referral_links_other", "other_id"),
)


ix_referrals_received = next(i for i in referrals.indexes if i.name == "ix_referrals_received")


def normalise_url(url: str) -> str:
    """Accept the URLs people paste (`postgres://`, `postgresql://`); use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the web process read while a worker writes; foreign keys are off by default.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def audit_entry(
    actor: str, action: str, *, referral_id: int | None = None, detail: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An audit row's values, for a caller that writes it inside its own transaction."""
    return {
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "referral_id": referral_id,
        "detail": detail or {},
    }


class DuplicateMessage(Exception):
    """The message is already stored: a redelivery or a retried job."""


def _row_to_referral(row: sa.Row[Any]) -> Referral:
    m = row._mapping
    return Referral(
        id=m["id"],
        reference=m["reference"],
        channel=m["channel"],
        sender=m["sender"],
        received_at=m["received_at"],
        raw_text=m["raw_text"],
        urgency=m["urgency"],
        safeguarding=list(m["safeguarding"] or []),
        screening=dict(m["screening"] or {}),
        fields=dict(m["fields"] or {}),
        status=m["status"],
        forward_status=m["forward_status"],
        safe_to_contact=bool(m["safe_to_contact"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


class Store:
    """The few queries intake needs, each in its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Store:
        return cls(make_engine(url))

    def create_schema(self) -> None:
        metadata.create_all(self.engine)
        # create_all skips tables that exist, with their indexes: add the ones added later.
        try:
            ix_referrals_received.create(self.engine, checkfirst=True)
        except sa.exc.DBAPIError:
            # Another process starting at the same moment (web and worker) may have made it.
            made = sa.inspect(self.engine).get_indexes("referrals")
            if not any(i["name"] == ix_referrals_received.name for i in made):
                raise

    def drop_schema(self) -> None:
        metadata.drop_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # -- referrals and their messages -------------------------------------------------------

    def find_referral_for_message(self, channel: str, provider_id: str) -> Referral | None:
        query = (
            sa.select(referrals)
            .join(messages, messages.c.referral_id == referrals.c.id)
            .where(messages.c.channel == channel, messages.c.provider_id == provider_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _row_to_referral(row) if row else None

    def create_referral(self, referral: Referral, message: InboundMessage) -> Referral:
        """Insert a referral, its first message and the `referral.created` audit entry at once.

        Raises `DuplicateMessage` when the message is already stored, so two workers racing on
        the same redelivered message leave exactly one referral behind.
        """
        now = utcnow()
        values = {
            "reference": referral.reference,
            "channel": referral.channel,
            "sender": referral.sender,
            "received_at": referral.received_at,
            "raw_text": referral.raw_text,
            "urgency": referral.urgency,
            "urgency_rank": URGENCY_RANK.get(referral.urgency, 2),
            "safeguarding": list(referral.safeguarding),
            "screening": referral.screening,
            "fields": referral.fields,
            "status": referral.status,
            "forward_status": referral.forward_status,
            "safe_to_contact": referral.safe_to_contact,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                referral_id = conn.execute(
                    referrals.insert().values(**values).returning(referrals.c.id)
                ).scalar_one()
                self._insert_message(conn, referral_id, message)
                # In the same transaction, so no referral ever exists without its audit entry.
                conn.execute(
                    audit_log.insert().values(
                        at=now,
                        actor="system",
                        action="referral.created",
                        referral_id=referral_id,
                        detail={"channel": message.channel, "urgency": referral.urgency},
                    )
                )
        except IntegrityError as exc:
            if self.find_referral_for_message(message.channel, message.provider_id):
                raise DuplicateMessage(message.provider_id) from exc
            raise  # most likely a reference clash: the caller retries with a new one
        referral.id = referral_id
        referral.created_at = referral.updated_at = now
        return referral

    def add_message(self, referral_id: int, message: InboundMessage) -> int:
        """Attach a later message (a reply, a transcript) to an existing referral."""
        try:
            with self.engine.begin() as conn:
                return self._insert_message(conn, referral_id, message)
        except IntegrityError as exc:
            raise DuplicateMessage(message.provider_id) from exc

    @staticmethod
    def _insert_message(conn: Connection, referral_id: int, message: InboundMessage) -> int:
        return conn.execute(
            messages.insert()
            .values(
                referral_id=referral_id,
                channel=message.channel,
                provider_id=message.provider_id,
                sender=message.sender,
                recipient=message.recipient,
                body=message.body,
                received_at=message.received_at,
                meta=message.meta,
                created_at=utcnow(),
            )
            .returning(messages.c.id)
        ).scalar_one()

    def get_referral(self, reference: str) -> Referral | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(referrals).where(referrals.c.reference == reference.upper())
            ).first()
        return _row_to_referral(row) if row else None

    def get_referral_by_id(self, referral_id: int) -> Referral | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(referrals).where(referrals.c.id == referral_id)).first()
        return _row_to_referral(row) if row else None

    def list_referrals(
        self,
        *,
        status: str | None = None,
        urgency: str | None = None,
        channel: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Referral]:
        """Most urgent first, then oldest first: the order a duty advocate works the queue in."""
        query = sa.select(referrals)
        if status:
            query = query.where(referrals.c.status == status)
        if urgency:
            query = query.where(referrals.c.urgency == urgency)
        if channel:
            query = query.where(referrals.c.channel == channel)
        query = query.order_by(
            referrals.c.urgency_rank, referrals.c.received_at, referrals.c.id
        ).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_row_to_referral(row) for row in conn.execute(query)]

    def count_referrals(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(referrals)).scalar_one()

    def messages_for(self, referral_id: int) -> list[dict[str, Any]]:
        query = (
            sa.select(messages)
            .where(messages.c.referral_id == referral_id)
            .order_by(messages.c.received_at, messages.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def update_referral(self, referral_id: int, **values: Any) -> None:
        if "urgency" in values:
            values["urgency_rank"] = URGENCY_RANK.get(values["urgency"], 2)
        values["updated_at"] = utcnow()
        with self.engine.begin() as conn:
            conn.execute(referrals.update().where(referrals.c.id == referral_id).values(**values))

    # -- outbound messages (acknowledgements, questions, alerts, replies) -------------------

    def claim_outbound(
        self,
        *,
        referral_id: int | None,
        kind: str,
        channel: str,
        recipient: str,
        body: str,
        dedupe_key: str | None,
    ) -> int | None:
        """Record an outbound message before it is sent; `None` if its dedupe key was taken.

        Claiming first makes sending at-most-once: a worker killed between the claim and the
        provider's answer leaves a `sending` row a person can see, never a second text.
        """
        try:
            with self.engine.begin() as conn:
                return conn.execute(
                    outbound.insert()
                    .values(
                        referral_id=referral_id,
                        kind=kind,
                        channel=channel,
                        recipient=recipient,
                        body=body,
                        dedupe_key=dedupe_key,
                        status="sending",
                        created_at=utcnow(),
                        updated_at=utcnow(),
                    )
                    .returning(outbound.c.id)
                ).scalar_one()
        except IntegrityError:
            return None

    def release_outbound(self, outbound_id: int) -> None:
        """Forget a claim whose send certainly failed, so a retry may claim it again."""
        with self.engine.begin() as conn:
            conn.execute(outbound.delete().where(outbound.c.id == outbound_id))

    def finish_outbound(
        self,
        outbound_id: int,
        *,
        status: str,
        provider_id: str | None = None,
        detail: str = "",
        audit: dict[str, Any] | None = None,
    ) -> None:
        """Record a send's outcome; `audit` (`audit_entry(...)`) goes in the same transaction."""
        with self.engine.begin() as conn:
            conn.execute(
                outbound.update()
                .where(outbound.c.id == outbound_id)
                .values(status=status, provider_id=provider_id, detail=detail, updated_at=utcnow())
            )
            if audit is not None:
                conn.execute(audit_log.insert().values(**audit))

    def outbound_for(self, referral_id: int) -> list[dict[str, Any]]:
        query = (
            sa.select(outbound)
            .where(outbound.c.referral_id == referral_id)
            .order_by(outbound.c.created_at, outbound.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # -- audit -------------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        *,
        referral_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                audit_log.insert().values(
                    **audit_entry(actor, action, referral_id=referral_id, detail=detail)
                )
            )

    def audit_for(self, referral_id: int | None = None) -> list[dict[str, Any]]:
        query = sa.select(audit_log).order_by(audit_log.c.at, audit_log.c.id)
        if referral_id is not None:
            query = query.where(audit_log.c.referral_id == referral_id)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
