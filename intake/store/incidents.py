"""Incidents: a burst of referrals from senders with no history, kept as one thing to look at.

Detection is `intake.flood`'s; these are its reads and writes, and what the dashboard shows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import incident_referrals, incidents, referrals

BURST = "burst"


class Incidents(Queries):
    """`store.incidents`."""

    def sender_known(self, channel: str, sender: str, before: datetime) -> bool:
        """Whether `sender` made a referral on `channel` before `before` (their history)."""
        if not sender:
            return False
        query = (
            sa.select(referrals.c.id)
            .where(
                referrals.c.sender == sender,
                referrals.c.channel == channel,
                referrals.c.received_at < before,
            )
            .limit(1)
        )
        with self.db.read() as conn:
            return conn.execute(query).first() is not None

    def record_burst(
        self, channel: str, referral_ids: list[int], at: datetime, window: timedelta
    ) -> tuple[int, bool]:
        """Put `referral_ids` in the burst incident on `channel` still going at `at` (its last
        referral within `window`), opening one if there is none; (its id, whether opened now).

        Callers serialise this per channel (`intake.flood` holds a Redis lock), so two workers
        seeing the same burst make one incident.
        """
        with self.db.transaction() as conn:
            found = conn.execute(
                sa.select(incidents.c.id, incidents.c.last_at)
                .where(
                    incidents.c.kind == BURST,
                    incidents.c.channel == channel,
                    incidents.c.closed_at.is_(None),
                    incidents.c.last_at >= at - window,
                )
                .order_by(incidents.c.id.desc())
                .limit(1)
            ).first()
            opened = found is None
            if found is None:
                incident_id = int(
                    conn.execute(
                        incidents.insert().values(
                            kind=BURST, channel=channel, started_at=at, last_at=at
                        )
                    ).inserted_primary_key[0]
                )
            else:
                incident_id = int(found.id)
                if at > found.last_at:
                    conn.execute(
                        incidents.update().where(incidents.c.id == incident_id).values(last_at=at)
                    )
            known = {
                r[0]
                for r in conn.execute(
                    sa.select(incident_referrals.c.referral_id).where(
                        incident_referrals.c.incident_id == incident_id,
                        incident_referrals.c.referral_id.in_(referral_ids),
                    )
                )
            }
            new = [rid for rid in dict.fromkeys(referral_ids) if rid not in known]
            if new:
                conn.execute(
                    incident_referrals.insert(),
                    [{"incident_id": incident_id, "referral_id": rid} for rid in new],
                )
            if opened:
                first = conn.execute(
                    sa.select(sa.func.min(referrals.c.received_at)).where(
                        referrals.c.id.in_(referral_ids)
                    )
                ).scalar_one_or_none()
                if first is not None and first < at:
                    conn.execute(
                        incidents.update()
                        .where(incidents.c.id == incident_id)
                        .values(started_at=first)
                    )
        return incident_id, opened

    def active_for(self, referral_id: int, since: datetime) -> int | None:
        """The open incident `referral_id` is part of whose last referral came after `since`."""
        query = (
            sa.select(incidents.c.id)
            .select_from(incidents.join(incident_referrals))
            .where(
                incident_referrals.c.referral_id == referral_id,
                incidents.c.closed_at.is_(None),
                incidents.c.last_at >= since,
            )
            .limit(1)
        )
        with self.db.read() as conn:
            return conn.execute(query).scalar_one_or_none()

    def recent(self, since: datetime) -> list[dict[str, Any]]:
        """Open incidents with a referral since `since`, newest first, with what the dashboard
        shows: channel, first and last time, how many referrals, emergencies and senders."""
        members = (
            sa.select(
                incident_referrals.c.incident_id,
                sa.func.count().label("referrals"),
                sa.func.sum(sa.case((referrals.c.urgency == "emergency", 1), else_=0)).label(
                    "emergencies"
                ),
                sa.func.count(sa.distinct(referrals.c.sender)).label("senders"),
            )
            .select_from(incident_referrals.join(referrals))
            .group_by(incident_referrals.c.incident_id)
            .subquery()
        )
        query = (
            sa.select(
                incidents,
                members.c.referrals,
                members.c.emergencies,
                members.c.senders,
            )
            .select_from(incidents.join(members, members.c.incident_id == incidents.c.id))
            .where(incidents.c.closed_at.is_(None), incidents.c.last_at >= since)
            .order_by(incidents.c.last_at.desc())
        )
        with self.db.read() as conn:
            return [
                {
                    **dict(row._mapping),
                    "emergencies": int(row.emergencies or 0),
                }
                for row in conn.execute(query)
            ]

    def get(self, incident_id: int) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).first()
        return dict(row._mapping) if row else None

    def references(self, incident_id: int, limit: int = 1000) -> list[dict[str, Any]]:
        """The incident's referrals (reference, urgency, status, received), most urgent first."""
        query = (
            sa.select(
                referrals.c.reference,
                referrals.c.urgency,
                referrals.c.status,
                referrals.c.received_at,
            )
            .select_from(incident_referrals.join(referrals))
            .where(incident_referrals.c.incident_id == incident_id)
            .order_by(referrals.c.urgency_rank, referrals.c.received_at)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def close(self, incident_id: int, actor: str) -> bool:
        """A person says the incident is dealt with; False when it was closed already."""
        with self.db.transaction() as conn:
            done = conn.execute(
                incidents.update()
                .where(incidents.c.id == incident_id, incidents.c.closed_at.is_(None))
                .values(closed_at=utcnow(), closed_by=actor)
            )
        return bool(done.rowcount)
