"""Applying a retention schedule (`intake.privacy.retention` reads it): one class at a time.

For the referral classes each rule becomes a condition on referrals: it matches their urgency
and outcome, is not matched by an earlier rule of the class (the first match decides), its time
has come (`keep_days` after closing or receipt), and the referral is not on legal hold. Counts
are of rows that change, so a second run the same day counts nothing, and a dry run counts
exactly what the run would change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from intake.store import search
from intake.store.audit import REDACTED, redact
from intake.store.database import Queries
from intake.store.privacy import ErasureCounts, erase_referrals
from intake.store.schema import (
    attachments,
    audit_log,
    mail_events,
    messages,
    outbound,
    referral_work,
    referrals,
    voice_calls,
)

REFERRAL_CLASSES = ("bodies", "attachments", "outbound", "referral")
BATCH = 500


@dataclass(frozen=True)
class Rule:
    keep_days: int
    after: str  # closed, received
    action: str  # delete, anonymise
    urgency: tuple[str, ...] = ()
    outcome: tuple[str, ...] = ()


def _matches(rule: Rule) -> sa.ColumnElement[bool]:
    clauses: list[sa.ColumnElement[bool]] = [sa.true()]
    if rule.urgency:
        clauses.append(referrals.c.urgency.in_(rule.urgency))
    if rule.outcome:
        clauses.append(referral_work.c.outcome.in_(rule.outcome))
    return sa.and_(*clauses)


def _due(rule: Rule, now: datetime) -> sa.ColumnElement[bool]:
    cutoff = now - timedelta(days=rule.keep_days)
    if rule.after == "received":
        return referrals.c.received_at < cutoff
    closed = sa.func.coalesce(referral_work.c.closed_at, referrals.c.updated_at)
    return sa.and_(referrals.c.status == "closed", closed < cutoff)


def _due_referrals(rules: Sequence[Rule], now: datetime) -> sa.Select[tuple[int]]:
    """Ids of the referrals whose first matching rule's time has come, not on legal hold."""
    decided: list[sa.ColumnElement[bool]] = []
    due: list[sa.ColumnElement[bool]] = []
    for rule in rules:
        match = _matches(rule)
        earlier = sa.or_(*decided) if decided else sa.false()
        due.append(sa.and_(match, sa.not_(earlier), _due(rule, now)))
        decided.append(match)
    return (
        sa.select(referrals.c.id)
        .select_from(
            referrals.outerjoin(referral_work, referral_work.c.referral_id == referrals.c.id)
        )
        .where(referrals.c.legal_hold.is_(False), sa.or_(*due))
    )


class Retention(Queries):
    """`store.retention`."""

    def apply(
        self, rules: Mapping[str, Sequence[Rule]], now: datetime, *, dry_run: bool = False
    ) -> dict[str, int]:
        counts: dict[str, int] = {}
        for kind in REFERRAL_CLASSES:
            if not rules.get(kind):
                continue
            with self.db.read() as conn:
                ids = list(conn.execute(_due_referrals(rules[kind], now)).scalars())
            total = 0
            for start in range(0, len(ids), BATCH):
                batch = ids[start : start + BATCH]
                with self._connection(dry_run) as conn:
                    total += _CLASS[kind](conn, batch, dry_run)
            counts[kind] = total
        if rules.get("audit"):
            counts["audit"] = self._audit(rules["audit"][0], now, dry_run)
        if rules.get("missed_calls"):
            counts["missed_calls"] = self._missed_calls(rules["missed_calls"][0], now, dry_run)
        return counts

    def _connection(self, dry_run: bool) -> AbstractContextManager[Connection]:
        return self.db.read() if dry_run else self.db.transaction()

    def _audit(self, rule: Rule, now: datetime, dry_run: bool) -> int:
        cutoff = now - timedelta(days=rule.keep_days)
        held = sa.select(referrals.c.id).where(referrals.c.legal_hold.is_(True))
        not_held = sa.or_(audit_log.c.referral_id.is_(None), audit_log.c.referral_id.not_in(held))
        with self._connection(dry_run) as conn:
            if rule.action == "anonymise":
                where = sa.and_(
                    audit_log.c.at < cutoff,
                    not_held,
                    sa.not_(audit_log.c.action.like("privacy.%")),
                    # redacted already (by erasure or an earlier run): left as it is
                    sa.not_(sa.cast(audit_log.c.detail, sa.Text).like(f'{{"{REDACTED}":%')),
                )
                if dry_run:
                    return _count(conn, audit_log, where)
                return redact(conn, where, "retention")
            # delete: only the oldest sealed rows, up to the first row still to be kept, so the
            # chain's first kept row anchors the rest (intake.store.audit)
            keep_from = conn.execute(
                sa.select(sa.func.min(audit_log.c.seq)).where(
                    sa.or_(audit_log.c.at >= cutoff, sa.not_(not_held))
                )
            ).scalar_one_or_none()
            where = audit_log.c.seq.is_not(None)
            if keep_from is not None:
                where = sa.and_(where, audit_log.c.seq < keep_from)
            else:
                where = sa.and_(where, audit_log.c.at < cutoff)
            if dry_run:
                return _count(conn, audit_log, where)
            return conn.execute(audit_log.delete().where(where)).rowcount

    def _missed_calls(self, rule: Rule, now: datetime, dry_run: bool) -> int:
        cutoff = now - timedelta(days=rule.keep_days)
        where = sa.and_(voice_calls.c.outcome == "missed", voice_calls.c.started_at < cutoff)
        with self._connection(dry_run) as conn:
            if rule.action == "anonymise":
                where = sa.and_(where, voice_calls.c.sender != "")
                if dry_run:
                    return _count(conn, voice_calls, where)
                return conn.execute(
                    voice_calls.update()
                    .where(where)
                    .values(sender="", recording_url=None, transcript=None, called_back_by=None)
                ).rowcount
            if dry_run:
                return _count(conn, voice_calls, where)
            return conn.execute(voice_calls.delete().where(where)).rowcount


def _count(conn: Connection, table: sa.Table, where: sa.ColumnElement[bool]) -> int:
    return int(
        conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar_one()
    )


def _bodies(conn: Connection, ids: list[int], dry_run: bool) -> int:
    """Message bodies, the referral's text, text read from files, transcripts, mail events."""
    where = sa.and_(messages.c.referral_id.in_(ids), messages.c.body != "")
    if dry_run:
        return _count(conn, messages, where)
    changed = conn.execute(messages.update().where(where).values(body="")).rowcount
    conn.execute(
        referrals.update()
        .where(referrals.c.id.in_(ids), referrals.c.raw_text != "")
        .values(raw_text="")
    )
    conn.execute(
        attachments.update()
        .where(attachments.c.referral_id.in_(ids), attachments.c.text != "")
        .values(text="")
    )
    sids = sa.select(messages.c.provider_id).where(
        messages.c.referral_id.in_(ids), messages.c.channel == "voice"
    )
    conn.execute(
        voice_calls.update()
        .where(voice_calls.c.call_sid.in_(sids), voice_calls.c.transcript.is_not(None))
        .values(transcript=None)
    )
    conn.execute(
        mail_events.update()
        .where(mail_events.c.referral_id.in_(ids), mail_events.c.detail != "")
        .values(subject="", detail="")
    )
    search.refresh(conn, ids)
    return changed


def _attachments(conn: Connection, ids: list[int], dry_run: bool) -> int:
    where = attachments.c.referral_id.in_(ids)
    sids = sa.select(messages.c.provider_id).where(
        messages.c.referral_id.in_(ids), messages.c.channel == "voice"
    )
    recordings = sa.and_(voice_calls.c.call_sid.in_(sids), voice_calls.c.recording_url.is_not(None))
    if dry_run:
        return _count(conn, attachments, where) + _count(conn, voice_calls, recordings)
    files = conn.execute(attachments.delete().where(where)).rowcount
    links = conn.execute(voice_calls.update().where(recordings).values(recording_url=None)).rowcount
    return files + links


def _outbound(conn: Connection, ids: list[int], dry_run: bool) -> int:
    where = sa.and_(
        outbound.c.referral_id.in_(ids), sa.or_(outbound.c.body != "", outbound.c.recipient != "")
    )
    if dry_run:
        return _count(conn, outbound, where)
    return conn.execute(
        outbound.update().where(where).values(body="", recipient="", detail=None)
    ).rowcount


def _referral(conn: Connection, ids: list[int], dry_run: bool) -> int:
    where = sa.and_(referrals.c.id.in_(ids), referrals.c.erased_at.is_(None))
    if dry_run:
        return _count(conn, referrals, where)
    fresh = list(conn.execute(sa.select(referrals.c.id).where(where)).scalars())
    if not fresh:
        return 0
    counts = ErasureCounts()
    erase_referrals(conn, fresh, counts, why="retention")
    return counts.referrals


_CLASS = {
    "bodies": _bodies,
    "attachments": _attachments,
    "outbound": _outbound,
    "referral": _referral,
}
