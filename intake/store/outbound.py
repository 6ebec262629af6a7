"""What intake sent (acknowledgements, questions, alerts, replies), claimed before it is sent.

`dedupe_key` is unique: claiming the row first is what makes sending at-most-once. A worker killed
between the claim and the provider's answer leaves a `sending` row a person can see, never a
second text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import audit_log, messages, outbound

MAX_DETAIL_CHARS = 4000


class OutboundQueries(Queries):
    """Mixed into `Store`: `store.claim_outbound(...)`, `store.outbound_for(...)`."""

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
        """Record an outbound message before it is sent; `None` if its dedupe key was taken."""
        try:
            with self.db.attempt() as conn:
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
        with self.db.transaction() as conn:
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
        with self.db.transaction() as conn:
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
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def referral_id_for_message_ids(self, channel: str, ids: Sequence[str]) -> int | None:
        """The referral that one of `ids` belongs to: a message we sent or received on `channel`.

        `ids` are provider ids, nearest first (an email's In-Reply-To, then its References); ours
        are matched by the id the provider gave what we sent (`outbound.provider_id`).
        """
        found = self.message_for_ids(channel, ids)
        return found[0] if found is not None else None

    def message_for_ids(self, channel: str, ids: Sequence[str]) -> tuple[int, bool] | None:
        """(referral id, whether it is a message we sent) for the nearest of `ids` we know.

        A message we sent wins over one we received with the same id (ids are the provider's).
        """
        wanted = [i for i in dict.fromkeys(ids) if i][:100]
        if not wanted:
            return None
        found: dict[str, tuple[int, bool]] = {}
        with self.db.read() as conn:
            for row in conn.execute(
                sa.select(outbound.c.provider_id, outbound.c.referral_id).where(
                    outbound.c.channel == channel,
                    outbound.c.provider_id.in_(wanted),
                    outbound.c.referral_id.is_not(None),
                )
            ):
                found.setdefault(row.provider_id, (row.referral_id, True))
            for row in conn.execute(
                sa.select(messages.c.provider_id, messages.c.referral_id).where(
                    messages.c.channel == channel, messages.c.provider_id.in_(wanted)
                )
            ):
                found.setdefault(row.provider_id, (row.referral_id, False))
        return next((found[i] for i in wanted if i in found), None)

    def mark_outbound_bounced(self, channel: str, provider_ids: Sequence[str], detail: str) -> int:
        """A bounce names messages we sent: say so on their outbound records."""
        wanted = [i for i in provider_ids if i]
        if not wanted:
            return 0
        with self.db.transaction() as conn:
            result = conn.execute(
                outbound.update()
                .where(outbound.c.channel == channel, outbound.c.provider_id.in_(wanted))
                .values(status="bounced", detail=detail[:MAX_DETAIL_CHARS], updated_at=utcnow())
            )
        return int(result.rowcount or 0)
