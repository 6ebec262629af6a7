"""Referrals and the messages they are made of: the store's core aggregate.

Durable idempotency lives here: `(channel, provider_id)` is unique on messages, so a redelivered
webhook or a retried job can never create a second referral or store a message twice.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from intake.deadlines import deadline_on
from intake.models import URGENCY_RANK, InboundMessage, Referral, utcnow
from intake.store import search
from intake.store.audit import audit_entry
from intake.store.cursor import make_cursor, parse_cursor
from intake.store.database import Queries, UTCDateTime
from intake.store.schema import attachments, audit_log, messages, referrals

# Changes to these columns change what a search finds (`intake.store.search`).
SEARCHED = frozenset({"raw_text", "fields", "sender"})


class DuplicateMessage(Exception):
    """The message is already stored: a redelivery or a retried job."""


class ReferenceTaken(Exception):
    """Another referral has this reference already (a clash of random references: rare)."""


def row_to_referral(row: sa.Row[Any]) -> Referral:
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
        urgency_decided_by=m["urgency_decided_by"],
        new_message_at=m["new_message_at"],
        language=m["language"],
        language_preference=m["language_preference"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _insert_message(conn: Connection, referral_id: int, message: InboundMessage) -> int:
    """The message's row and its files' rows; the message's row id."""
    row_id = conn.execute(
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
    for position, item in enumerate(message.attachments):
        conn.execute(
            attachments.insert().values(
                referral_id=referral_id,
                message_id=row_id,
                position=position,
                filename=item.filename[:255],
                content_type=item.content_type[:255],
                size=item.size,
                data=item.data,
                text=item.text,
                created_at=utcnow(),
            )
        )
    return row_id


class ReferralQueries(Queries):
    """Referrals and their messages (mixed into `Store`: `store.get_referral(...)`)."""

    def find_referral_for_message(self, channel: str, provider_id: str) -> Referral | None:
        query = (
            sa.select(referrals)
            .join(messages, messages.c.referral_id == referrals.c.id)
            .where(messages.c.channel == channel, messages.c.provider_id == provider_id)
        )
        with self.db.read() as conn:
            row = conn.execute(query).first()
        return row_to_referral(row) if row else None

    def create_referral(self, referral: Referral, message: InboundMessage) -> Referral:
        """Insert a referral, its first message (with its files) and the `referral.created` audit
        entry, at once.

        Raises `DuplicateMessage` when the message is already stored, so two workers racing on
        the same redelivered message leave exactly one referral behind, and `ReferenceTaken` when
        the reference is in use (the caller draws another).
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
            "language": referral.language,
            "language_preference": referral.language_preference,
            "deadline_on": deadline_on(referral.screening),
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.db.attempt() as conn:
                referral_id = conn.execute(
                    referrals.insert().values(**values).returning(referrals.c.id)
                ).scalar_one()
                _insert_message(conn, referral_id, message)
                search.refresh(conn, [referral_id])
                # In the same transaction, so no referral ever exists without its audit entry.
                conn.execute(
                    audit_log.insert().values(
                        **audit_entry(
                            "system",
                            "referral.created",
                            referral_id=referral_id,
                            detail={"channel": message.channel, "urgency": referral.urgency},
                        )
                    )
                )
        except IntegrityError as exc:
            if self.find_referral_for_message(message.channel, message.provider_id):
                raise DuplicateMessage(message.provider_id) from exc
            if self.get_referral(referral.reference) is not None:
                raise ReferenceTaken(referral.reference) from exc
            raise
        referral.id = referral_id
        referral.created_at = referral.updated_at = now
        return referral

    def add_message(self, referral_id: int, message: InboundMessage) -> int:
        """Attach a later message (and its files) to an existing referral; its row id."""
        try:
            with self.db.attempt() as conn:
                row_id = _insert_message(conn, referral_id, message)
                search.refresh(conn, [referral_id])
                return row_id
        except IntegrityError as exc:
            raise DuplicateMessage(message.provider_id) from exc

    def replace_message(self, message: InboundMessage) -> None:
        """Replace a stored message's text and meta (a voicemail's transcript arrives after it)."""
        with self.db.transaction() as conn:
            conn.execute(
                messages.update()
                .where(
                    messages.c.channel == message.channel,
                    messages.c.provider_id == message.provider_id,
                )
                .values(body=message.body, meta=message.meta)
            )
            owner = conn.execute(
                sa.select(messages.c.referral_id).where(
                    messages.c.channel == message.channel,
                    messages.c.provider_id == message.provider_id,
                )
            ).scalar_one_or_none()
            if owner is not None:
                search.refresh(conn, [owner])

    def message_row_id(self, channel: str, provider_id: str) -> int | None:
        with self.db.read() as conn:
            return conn.execute(
                sa.select(messages.c.id).where(
                    messages.c.channel == channel, messages.c.provider_id == provider_id
                )
            ).scalar_one_or_none()

    def last_recipient(self, channel: str, sender: str) -> str | None:
        """The address `sender` last wrote to on `channel` (our number, as they saw it): a reply
        on a channel such as WhatsApp must come from it. Reads the sender's referrals (indexed)."""
        query = (
            sa.select(messages.c.recipient)
            .join(referrals, referrals.c.id == messages.c.referral_id)
            .where(
                referrals.c.sender == sender,
                messages.c.channel == channel,
                messages.c.sender == sender,
            )
            .order_by(messages.c.id.desc())
            .limit(1)
        )
        with self.db.read() as conn:
            return conn.execute(query).scalar_one_or_none()

    def language_preference_for(self, sender: str) -> str | None:
        """The language `sender` last asked to be written to in, on any of their referrals
        (newest first; indexed by sender), or None: a preference once recorded is used for every
        later referral from the same address (Welsh Language Standards: record and use it)."""
        if not sender:
            return None
        query = (
            sa.select(referrals.c.language_preference)
            .where(referrals.c.sender == sender, referrals.c.language_preference.is_not(None))
            .order_by(referrals.c.id.desc())
            .limit(1)
        )
        with self.db.read() as conn:
            return conn.execute(query).scalar_one_or_none()

    def get_message(self, channel: str, provider_id: str) -> dict[str, Any] | None:
        """One stored message by its provider id, as a row."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(messages).where(
                    messages.c.channel == channel, messages.c.provider_id == provider_id
                )
            ).first()
        return dict(row._mapping) if row else None

    def get_referral(self, reference: str) -> Referral | None:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(referrals).where(referrals.c.reference == reference.upper())
            ).first()
        return row_to_referral(row) if row else None

    def lock_referral(self, referral_id: int) -> Referral:
        """The referral as it is now, locked until the open transaction ends.

        `SELECT ... FOR UPDATE` on PostgreSQL; on SQLite the write transaction already holds the
        database's write lock (it began IMMEDIATE), so no one else can change it meanwhile.
        Call inside `store.transaction()`: whatever is decided from it cannot race a change.
        """
        assert self.db.in_transaction, "lock_referral needs an open transaction"
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(referrals).where(referrals.c.id == referral_id).with_for_update()
            ).first()
        if row is None:
            raise LookupError(f"no referral {referral_id}")
        return row_to_referral(row)

    def get_referral_by_id(self, referral_id: int) -> Referral | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(referrals).where(referrals.c.id == referral_id)).first()
        return row_to_referral(row) if row else None

    def list_referrals(
        self,
        *,
        status: str | None = None,
        urgency: str | None = None,
        channel: str | None = None,
        limit: int = 50,
        offset: int = 0,
        after: str | None = None,
    ) -> list[Referral]:
        """Most urgent first, then oldest first: the order a duty advocate works the queue in.

        `after` is a keyset cursor (`list_cursor` of the last referral of the previous page): the
        page starts just after it, an index seek on `ix_referrals_list` however deep the page,
        where `offset` reads and discards every row before it. Raises `ValueError` for a cursor
        that is not one.
        """
        query = sa.select(referrals)
        if status:
            query = query.where(referrals.c.status == status)
        if urgency:
            query = query.where(referrals.c.urgency == urgency)
        if channel:
            query = query.where(referrals.c.channel == channel)
        if after is not None:
            rank, received_at, last_id, _ = parse_cursor(after)
            query = query.where(
                sa.tuple_(referrals.c.urgency_rank, referrals.c.received_at, referrals.c.id)
                > sa.tuple_(
                    sa.literal(rank),
                    sa.literal(received_at, UTCDateTime()),
                    sa.literal(last_id),
                )
            )
        query = (
            query.order_by(referrals.c.urgency_rank, referrals.c.received_at, referrals.c.id)
            .limit(limit)
            .offset(offset)
        )
        with self.db.read() as conn:
            return [row_to_referral(row) for row in conn.execute(query)]

    @staticmethod
    def list_cursor(referral: Referral) -> str:
        """The keyset cursor after `referral` in `list_referrals`' order: an opaque string."""
        return make_cursor(
            URGENCY_RANK.get(referral.urgency, 2), referral.received_at, referral.id or 0
        )

    def count_referrals(self) -> int:
        with self.db.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(referrals)).scalar_one()

    def messages_for(self, referral_id: int) -> list[dict[str, Any]]:
        query = (
            sa.select(messages)
            .where(messages.c.referral_id == referral_id)
            .order_by(messages.c.received_at, messages.c.id)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def update_referral(self, referral_id: int, **values: Any) -> None:
        if "urgency" in values:
            values["urgency_rank"] = URGENCY_RANK.get(values["urgency"], 2)
        if "screening" in values:
            values["deadline_on"] = deadline_on(values["screening"])
        values["updated_at"] = utcnow()
        with self.db.transaction() as conn:
            conn.execute(referrals.update().where(referrals.c.id == referral_id).values(**values))
            if SEARCHED & values.keys():
                search.refresh(conn, [referral_id])

    def raise_urgency(self, referral_id: int, urgency: str) -> bool:
        """Raise a referral's urgency to `urgency` if that is higher and no person decided it;
        never lowers it.

        One conditional UPDATE, so two messages screened at once cannot undo each other's raise,
        and a message screened while an advocate set the urgency cannot override them.
        """
        rank = URGENCY_RANK.get(urgency, 2)
        with self.db.transaction() as conn:
            result = conn.execute(
                referrals.update()
                .where(
                    referrals.c.id == referral_id,
                    referrals.c.urgency_rank > rank,
                    referrals.c.urgency_decided_by.is_(None),
                )
                .values(urgency=urgency, urgency_rank=rank, updated_at=utcnow())
            )
        return bool(result.rowcount)
