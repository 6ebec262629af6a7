"""Possible duplicates (`referral_links`) and what matching reads of earlier referrals.

Matching itself (`intake.merge`) is pure; these are its reads and the writes of a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import utcnow
from intake.store import search
from intake.store.database import Queries
from intake.store.schema import attachments, messages, outbound, referral_links, referrals

CANDIDATE_LIMIT = 500
# What we send to the person a referral is from (not `alert`: that goes to staff).
PERSON_KINDS = ("ack", "question", "reply", "help")


@dataclass(frozen=True)
class Candidate:
    """What matching reads of an earlier referral: its id, sender and fields, nothing else."""

    id: int
    sender: str
    fields: dict[str, Any]


class Links(Queries):
    """`store.links`."""

    def candidates(
        self,
        *,
        since: datetime,
        exclude_id: int | None = None,
        channels: tuple[str, ...] | None = None,
        exclude_channel: str | None = None,
    ) -> list[Candidate]:
        """The newest open referrals received since `since`, as light rows (at most 500).

        Only the three columns matching needs; the range on `received_at` uses its index.
        """
        query = sa.select(referrals.c.id, referrals.c.sender, referrals.c.fields).where(
            referrals.c.status != "closed", referrals.c.received_at >= since
        )
        if exclude_id is not None:
            query = query.where(referrals.c.id != exclude_id)
        if channels is not None:
            query = query.where(referrals.c.channel.in_(channels))
        if exclude_channel is not None:
            query = query.where(referrals.c.channel != exclude_channel)
        query = query.order_by(referrals.c.received_at.desc(), referrals.c.id.desc()).limit(
            CANDIDATE_LIMIT
        )
        with self.db.read() as conn:
            return [
                Candidate(id=rid, sender=sender, fields=dict(fields or {}))
                for rid, sender, fields in conn.execute(query)
            ]

    def message_senders(self, referral_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
        """(channel, sender) of every message of each referral."""
        if not referral_ids:
            return {}
        query = sa.select(messages.c.referral_id, messages.c.channel, messages.c.sender).where(
            messages.c.referral_id.in_(referral_ids)
        )
        out: dict[int, list[tuple[str, str]]] = {}
        with self.db.read() as conn:
            for rid, channel, sender in conn.execute(query):
                out.setdefault(rid, []).append((channel, sender))
        return out

    def correspondents(self, referral_id: int) -> set[tuple[str, str]]:
        """(channel, address) of everyone whose messages are in a referral and everyone we wrote
        to about it (acknowledgements, questions, replies; not staff alerts), as stored."""
        sent = sa.select(outbound.c.channel, outbound.c.recipient).where(
            outbound.c.referral_id == referral_id,
            outbound.c.kind.in_(PERSON_KINDS),
            outbound.c.status.in_(("sent", "sending", "uncertain")),
        )
        received = sa.select(messages.c.channel, messages.c.sender).where(
            messages.c.referral_id == referral_id
        )
        with self.db.read() as conn:
            return {(c, a) for c, a in conn.execute(received)} | {
                (c, a) for c, a in conn.execute(sent)
            }

    def suggest(self, referral_id: int, other_id: int, reason: str) -> bool:
        """Link two referrals for a person to look at; False when they are linked already."""
        try:
            with self.db.attempt() as conn:
                conn.execute(
                    referral_links.insert().values(
                        referral_id=referral_id,
                        other_id=other_id,
                        reason=reason,
                        status="suggested",
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def touching(self, referral_id: int) -> list[dict[str, Any]]:
        """Every link touching a referral, either side, oldest first."""
        query = (
            sa.select(referral_links)
            .where(
                sa.or_(
                    referral_links.c.referral_id == referral_id,
                    referral_links.c.other_id == referral_id,
                )
            )
            .order_by(referral_links.c.id)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def get(self, link_id: int) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(referral_links).where(referral_links.c.id == link_id)
            ).first()
        return dict(row._mapping) if row else None

    def decide(self, link_id: int, status: str, actor: str) -> bool:
        """Record a person's answer on a suggested link; False if it was decided already."""
        with self.db.transaction() as conn:
            done = conn.execute(
                referral_links.update()
                .where(referral_links.c.id == link_id, referral_links.c.status == "suggested")
                .values(status=status, decided_at=utcnow(), decided_by=actor)
            )
        return bool(done.rowcount)

    def move_messages(self, from_id: int, to_id: int) -> None:
        """Move a referral's messages, files and what was sent about it to another (a confirmed
        merge), so the one that remains has the whole thread."""
        with self.db.transaction() as conn:
            for table in (messages, attachments, outbound):
                conn.execute(
                    table.update().where(table.c.referral_id == from_id).values(referral_id=to_id)
                )
            search.refresh(conn, [from_id, to_id])
