"""The queries the email channel adds to the store: threading look-ups, attachments, mail events.

Kept apart from `intake/store.py` (which holds the tables) so the email worker's needs do not grow
the shared `Store` class. Every write is idempotent, because an RQ job may run twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import URGENCY_RANK, Referral, utcnow
from intake.store import Store, attachments, mail_events, messages, outbound, referrals

CHANNEL = "email"
MAX_DETAIL_CHARS = 4000


class AttachmentLike(Protocol):
    filename: str
    content_type: str
    size: int
    data: bytes
    text: str | None


def referral_for_message_ids(store: Store, ids: Sequence[str]) -> Referral | None:
    """The referral an email replies to: one of our acknowledgements, or an earlier message of it.

    `ids` are Message-IDs from In-Reply-To and References (nearest first); our own outbound email
    is matched by the Message-ID we sent it with (`outbound.provider_id`).
    """
    wanted = [i for i in dict.fromkeys(ids) if i][:100]
    if not wanted:
        return None
    with store.engine.connect() as conn:
        found: dict[str, int] = {}
        for row in conn.execute(
            sa.select(outbound.c.provider_id, outbound.c.referral_id).where(
                outbound.c.channel == CHANNEL,
                outbound.c.provider_id.in_(wanted),
                outbound.c.referral_id.is_not(None),
            )
        ):
            found.setdefault(row.provider_id, row.referral_id)
        for row in conn.execute(
            sa.select(messages.c.provider_id, messages.c.referral_id).where(
                messages.c.channel == CHANNEL, messages.c.provider_id.in_(wanted)
            )
        ):
            found.setdefault(row.provider_id, row.referral_id)
    for message_id in wanted:
        if message_id in found:
            return store.get_referral_by_id(found[message_id])
    return None


def message_row_id(store: Store, provider_id: str) -> int | None:
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(messages.c.id).where(
                messages.c.channel == CHANNEL, messages.c.provider_id == provider_id
            )
        ).scalar_one_or_none()


def save_attachments(
    store: Store, referral_id: int, message_id: int, files: Iterable[AttachmentLike]
) -> int:
    """Keep a message's attachments with its referral; on a re-run only missing ones are added."""
    added = 0
    with store.engine.begin() as conn:
        present = set(
            conn.execute(
                sa.select(attachments.c.position).where(attachments.c.message_id == message_id)
            ).scalars()
        )
        for position, item in enumerate(files):
            if position in present:
                continue
            conn.execute(
                attachments.insert().values(
                    referral_id=referral_id,
                    message_id=message_id,
                    position=position,
                    filename=item.filename[:255],
                    content_type=item.content_type[:255],
                    size=item.size,
                    data=item.data,
                    text=item.text,
                    created_at=utcnow(),
                )
            )
            added += 1
    return added


def attachments_for(store: Store, referral_id: int) -> list[dict[str, Any]]:
    """A referral's attachments without their bytes (for listings); `attachment` has the bytes."""
    columns = [c for c in attachments.c if c.name != "data"]
    query = (
        sa.select(*columns)
        .where(attachments.c.referral_id == referral_id)
        .order_by(attachments.c.message_id, attachments.c.position)
    )
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def attachment(store: Store, attachment_id: int) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(attachments).where(attachments.c.id == attachment_id)).first()
    return dict(row._mapping) if row else None


def record_mail_event(
    store: Store,
    *,
    provider_id: str,
    kind: str,
    sender: str,
    recipient: str,
    subject: str,
    reason: str,
    detail: str,
    received_at: datetime,
    referral_id: int | None,
) -> bool:
    """Record an out-of-office reply or a bounce; False when this Message-ID was recorded before."""
    try:
        with store.engine.begin() as conn:
            conn.execute(
                mail_events.insert().values(
                    provider_id=provider_id[:255],
                    kind=kind,
                    referral_id=referral_id,
                    sender=sender[:320],
                    recipient=recipient[:320],
                    subject=subject,
                    reason=reason,
                    detail=detail[:MAX_DETAIL_CHARS],
                    received_at=received_at,
                    created_at=utcnow(),
                )
            )
    except IntegrityError:
        return False
    return True


def mail_events_for(store: Store, referral_id: int | None = None) -> list[dict[str, Any]]:
    """Recorded mail events, oldest first; all of them, or those tied to one referral."""
    query = sa.select(mail_events).order_by(mail_events.c.received_at, mail_events.c.id)
    if referral_id is not None:
        query = query.where(mail_events.c.referral_id == referral_id)
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def mark_outbound_bounced(store: Store, provider_ids: Sequence[str], detail: str) -> int:
    """A bounce names one of our acknowledgements: say so on its outbound record."""
    wanted = [i for i in provider_ids if i]
    if not wanted:
        return 0
    with store.engine.begin() as conn:
        result = conn.execute(
            outbound.update()
            .where(outbound.c.channel == CHANNEL, outbound.c.provider_id.in_(wanted))
            .values(status="bounced", detail=detail[:MAX_DETAIL_CHARS], updated_at=utcnow())
        )
    return int(result.rowcount or 0)


def raise_urgency(store: Store, referral_id: int, urgency: str) -> bool:
    """Raise a referral's urgency to `urgency` if that is higher; never lowers it.

    One conditional UPDATE, so two replies screened at once cannot undo each other's escalation.
    """
    rank = URGENCY_RANK.get(urgency, 2)
    with store.engine.begin() as conn:
        result = conn.execute(
            referrals.update()
            .where(referrals.c.id == referral_id, referrals.c.urgency_rank > rank)
            .values(urgency=urgency, urgency_rank=rank, updated_at=utcnow())
        )
    return bool(result.rowcount)
