"""Data protection's queries: finding a person's referrals, erasing them, erasure requests.

Erasure (UK GDPR Article 17) deletes content and keeps the rows other statistics need,
anonymised: a referral keeps its reference, channel, dates, urgency, safeguarding categories and
status, and loses its sender, text, extracted fields and screening reasons; its messages keep
their channel and time and lose body, addresses and provider metadata; files, notes, field
histories, screening corrections, SMS conversations and the search index rows go. Audit rows of
an erased referral keep who did what and when; their details are redacted
(`intake.store.audit.redact`).

Everything for one erasure is written in one transaction (`erase`), so a failure leaves the
person's data whole rather than half erased.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from intake.models import utcnow
from intake.store import search
from intake.store.audit import redact
from intake.store.database import Queries
from intake.store.schema import (
    attachments,
    audit_log,
    erasure_requests,
    field_edits,
    forward_attempts,
    forward_events,
    mail_events,
    messages,
    notes,
    outbound,
    referral_links,
    referrals,
    screening_corrections,
    search_terms,
    sms_conversations,
    sms_optouts,
    voice_calls,
)

ERASED = "[erased]"


@dataclass
class ErasureCounts:
    """What one erasure did, row counts per kind (never content): printed and audited."""

    referrals: int = 0
    messages: int = 0
    attachments: int = 0
    outbound: int = 0
    calls: int = 0
    mail_events: int = 0
    notes: int = 0
    field_edits: int = 0
    corrections: int = 0
    conversations: int = 0
    optouts: int = 0
    audit_redacted: int = 0
    forward_attempts: int = 0
    mentions_redacted: int = 0
    redis_keys: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        values = {k: v for k, v in vars(self).items() if k != "extra"}
        values.update(self.extra)
        return values


class Privacy(Queries):
    """`store.privacy`."""

    # -- finding a person ---------------------------------------------------------------------

    def referrals_from(self, addresses: Collection[str]) -> set[int]:
        """Referrals whose sender, or one of whose messages' senders, is one of `addresses`
        (E.164 phone numbers, lower-case email addresses, WhatsApp-style `whatsapp:+44...`)."""
        if not addresses:
            return set()
        wanted = list(addresses)
        with self.db.read() as conn:
            found = set(
                conn.execute(
                    sa.select(referrals.c.id).where(sa.func.lower(referrals.c.sender).in_(wanted))
                ).scalars()
            )
            found.update(
                conn.execute(
                    sa.select(messages.c.referral_id).where(
                        sa.func.lower(messages.c.sender).in_(wanted)
                    )
                ).scalars()
            )
        return found

    def referrals_mentioning(self, terms: Collection[str]) -> set[int]:
        """Referrals whose search index holds any of these terms (`intake.store.search.terms`
        form: a phone number's E.164 digits, an email address), wherever it was written."""
        if not terms:
            return set()
        stored = [search.stored(t) for t in terms]
        with self.db.read() as conn:
            return set(
                conn.execute(
                    sa.select(search_terms.c.referral_id).where(search_terms.c.term.in_(stored))
                ).scalars()
            )

    def merged_with(self, referral_ids: Collection[int]) -> set[int]:
        """The referrals joined to these by a confirmed merge, followed to the end."""
        found = set(referral_ids)
        frontier = set(referral_ids)
        with self.db.read() as conn:
            while frontier:
                rows = conn.execute(
                    sa.select(referral_links.c.referral_id, referral_links.c.other_id).where(
                        referral_links.c.status == "confirmed",
                        sa.or_(
                            referral_links.c.referral_id.in_(frontier),
                            referral_links.c.other_id.in_(frontier),
                        ),
                    )
                ).all()
                new = {i for row in rows for i in row} - found
                found |= new
                frontier = new
        return found

    def id_for_reference(self, reference: str) -> int | None:
        with self.db.read() as conn:
            return conn.execute(
                sa.select(referrals.c.id).where(referrals.c.reference == reference.strip().upper())
            ).scalar_one_or_none()

    def summaries(self, referral_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Reference, sender, fields and whether on hold, for deciding and confirming."""
        ids = list(referral_ids)
        if not ids:
            return []
        query = (
            sa.select(
                referrals.c.id,
                referrals.c.reference,
                referrals.c.channel,
                referrals.c.sender,
                referrals.c.received_at,
                referrals.c.fields,
                referrals.c.legal_hold,
                referrals.c.erased_at,
            )
            .where(referrals.c.id.in_(ids))
            .order_by(referrals.c.received_at, referrals.c.id)
        )
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def message_senders(self, referral_ids: Iterable[int]) -> set[str]:
        ids = list(referral_ids)
        if not ids:
            return set()
        with self.db.read() as conn:
            return set(
                conn.execute(
                    sa.select(messages.c.sender).where(messages.c.referral_id.in_(ids))
                ).scalars()
            )

    def open_forward_jobs(self, referral_ids: Iterable[int]) -> list[str]:
        """The RQ job ids of these referrals' undelivered forward events."""
        ids = list(referral_ids)
        if not ids:
            return []
        with self.db.read() as conn:
            return [
                j
                for j in conn.execute(
                    sa.select(forward_events.c.job_id).where(
                        forward_events.c.referral_id.in_(ids),
                        forward_events.c.status.in_(("queued", "retrying")),
                    )
                ).scalars()
                if j
            ]

    # -- erasing ------------------------------------------------------------------------------

    def erase(
        self,
        referral_ids: Collection[int],
        *,
        phones: Collection[str] = (),
        emails: Collection[str] = (),
        mentions: Collection[int] = (),
        needles: Collection[str] = (),
    ) -> ErasureCounts:
        """Erase these referrals (see the module docstring), and every other row keyed by the
        person's `phones` and `emails`; in `mentions` (referrals about someone else that name
        the person), replace each of `needles` with "[erased]". One transaction."""
        counts = ErasureCounts()
        ids = sorted(set(referral_ids))
        with self.db.transaction() as conn:
            if ids:
                erase_referrals(conn, ids, counts)
            self._erase_by_address(conn, ids, list(phones), list(emails), counts)
            others = sorted(set(mentions) - set(ids))
            if others and needles:
                counts.mentions_redacted = _redact_mentions(conn, others, list(needles))
                search.refresh(conn, others)
        return counts

    def _erase_by_address(
        self,
        conn: Connection,
        ids: list[int],
        phones: list[str],
        emails: list[str],
        counts: ErasureCounts,
    ) -> None:
        """Rows that name the person but belong to no erased referral: missed calls, mail
        events, SMS conversations and the opt-out list."""
        if phones:
            counts.calls += conn.execute(
                voice_calls.update()
                .where(voice_calls.c.sender.in_(phones))
                .values(sender="", recording_url=None, transcript=None, called_back_by=None)
            ).rowcount
            counts.conversations += conn.execute(
                sms_conversations.delete().where(sms_conversations.c.phone.in_(phones))
            ).rowcount
            # The opt-out list names the number; with every referral of theirs erased there is
            # nothing left to send, and a later text from them starts afresh.
            counts.optouts = conn.execute(
                sms_optouts.delete().where(sms_optouts.c.phone.in_(phones))
            ).rowcount
            counts.outbound += conn.execute(
                outbound.update()
                .where(outbound.c.recipient.in_(phones))
                .values(recipient="", body="", detail=None)
            ).rowcount
        if emails:
            counts.mail_events += conn.execute(
                mail_events.delete().where(
                    sa.or_(
                        sa.func.lower(mail_events.c.sender).in_(emails),
                        sa.func.lower(mail_events.c.recipient).in_(emails),
                    )
                )
            ).rowcount
            counts.outbound += conn.execute(
                outbound.update()
                .where(sa.func.lower(outbound.c.recipient).in_(emails))
                .values(recipient="", body="", detail=None)
            ).rowcount

    def flush(self) -> None:
        """On SQLite, copy the write-ahead log into the database file and empty it, so the
        content erased does not linger in the `-wal` file's older page images."""
        if self.db.engine.dialect.name != "sqlite" or self.db.in_transaction:
            return
        with self.db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- erasure requests (the dashboard's two-manager action) --------------------------------

    def request_erasure(self, kind: str, value: str, reason: str, requested_by: str) -> int:
        with self.db.transaction() as conn:
            return conn.execute(
                erasure_requests.insert()
                .values(
                    kind=kind,
                    value=value,
                    reason=reason,
                    requested_by=requested_by,
                    requested_at=utcnow(),
                    status="pending",
                    counts={},
                )
                .returning(erasure_requests.c.id)
            ).scalar_one()

    def erasure_request(self, request_id: int) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(erasure_requests).where(erasure_requests.c.id == request_id)
            ).first()
        return dict(row._mapping) if row else None

    def erasure_requests(self, *, pending_only: bool = False) -> list[dict[str, Any]]:
        query = sa.select(erasure_requests).order_by(erasure_requests.c.requested_at.desc())
        if pending_only:
            query = query.where(erasure_requests.c.status == "pending")
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query.limit(200))]

    def decide_erasure(
        self, request_id: int, status: str, actor: str, counts: dict[str, int] | None = None
    ) -> bool:
        """Close a pending request (`done` or `withdrawn`), forgetting whom it named; False when
        it was no longer pending (another manager got there first)."""
        with self.db.transaction() as conn:
            result = conn.execute(
                erasure_requests.update()
                .where(erasure_requests.c.id == request_id, erasure_requests.c.status == "pending")
                .values(
                    status=status,
                    value=None,
                    decided_by=actor,
                    decided_at=utcnow(),
                    counts=counts or {},
                )
            )
        return bool(result.rowcount)

    def set_legal_hold(self, referral_id: int, hold: bool, reason: str | None) -> bool:
        """Put a referral on legal hold (retention leaves it alone) or release it; False when
        there is no such referral."""
        with self.db.transaction() as conn:
            result = conn.execute(
                referrals.update()
                .where(referrals.c.id == referral_id)
                .values(legal_hold=hold, legal_hold_reason=reason if hold else None)
            )
        return bool(result.rowcount)

    def set_counts(self, request_id: int, counts: dict[str, int]) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                erasure_requests.update()
                .where(erasure_requests.c.id == request_id)
                .values(counts=counts)
            )


def erase_referrals(
    conn: Connection, ids: list[int], counts: ErasureCounts, *, why: str = "erasure"
) -> None:
    """Anonymise these referrals and delete their content (the module docstring lists what),
    on `conn`, the caller's transaction; `why` labels the audit rows it redacts."""
    now = utcnow()
    voice_sids = list(
        conn.execute(
            sa.select(messages.c.provider_id).where(
                messages.c.referral_id.in_(ids), messages.c.channel == "voice"
            )
        ).scalars()
    )
    counts.referrals = conn.execute(
        referrals.update()
        .where(referrals.c.id.in_(ids))
        .values(
            sender="",
            raw_text="",
            fields={},
            screening={},
            safe_to_contact=False,  # nobody is to be contacted about an erased referral
            urgency_decided_by=None,
            new_message_at=None,
            legal_hold_reason=None,
            erased_at=now,
            updated_at=now,
        )
    ).rowcount
    counts.attachments = conn.execute(
        attachments.delete().where(attachments.c.referral_id.in_(ids))
    ).rowcount
    counts.messages = conn.execute(
        messages.update()
        .where(messages.c.referral_id.in_(ids))
        # the provider's id can be an email Message-ID naming the sender's domain
        .values(
            sender="",
            recipient="",
            body="",
            meta={},
            provider_id=sa.literal("erased-") + sa.cast(messages.c.id, sa.String),
        )
    ).rowcount
    counts.outbound = conn.execute(
        outbound.update()
        .where(outbound.c.referral_id.in_(ids))
        .values(recipient="", body="", detail=None)
    ).rowcount
    if voice_sids:
        counts.calls += conn.execute(
            voice_calls.update()
            .where(voice_calls.c.call_sid.in_(voice_sids))
            .values(sender="", recording_url=None, transcript=None, called_back_by=None)
        ).rowcount
    counts.mail_events += conn.execute(
        mail_events.delete().where(mail_events.c.referral_id.in_(ids))
    ).rowcount
    counts.notes = conn.execute(notes.delete().where(notes.c.referral_id.in_(ids))).rowcount
    counts.field_edits = conn.execute(
        field_edits.delete().where(field_edits.c.referral_id.in_(ids))
    ).rowcount
    counts.corrections = conn.execute(
        screening_corrections.delete().where(screening_corrections.c.referral_id.in_(ids))
    ).rowcount
    counts.conversations += conn.execute(
        sms_conversations.delete().where(sms_conversations.c.referral_id.in_(ids))
    ).rowcount
    counts.forward_attempts = conn.execute(
        forward_attempts.update()
        .where(forward_attempts.c.referral_id.in_(ids), forward_attempts.c.error.is_not(None))
        .values(error=ERASED)
    ).rowcount
    # Undelivered events would carry the anonymised referral as an update: withdrawn.
    conn.execute(
        forward_events.update()
        .where(
            forward_events.c.referral_id.in_(ids),
            forward_events.c.status.in_(("queued", "retrying")),
        )
        .values(status="cancelled", updated_at=now)
    )
    counts.audit_redacted = redact(conn, audit_log.c.referral_id.in_(ids), why)
    search.refresh(conn, ids)  # leaves the reference alone in the index


def _redact_mentions(conn: Connection, ids: list[int], needles: list[str]) -> int:
    """Replace each needle in these referrals' texts, fields and message bodies; rows changed."""
    changed = 0
    for row in conn.execute(
        sa.select(referrals.c.id, referrals.c.raw_text, referrals.c.fields).where(
            referrals.c.id.in_(ids)
        )
    ).all():
        text, fields = _scrub(row.raw_text, needles), _scrub_json(row.fields, needles)
        if text != row.raw_text or fields != row.fields:
            conn.execute(
                referrals.update()
                .where(referrals.c.id == row.id)
                .values(raw_text=text, fields=fields)
            )
            changed += 1
    for row in conn.execute(
        sa.select(messages.c.id, messages.c.body).where(messages.c.referral_id.in_(ids))
    ).all():
        body = _scrub(row.body, needles)
        if body != row.body:
            conn.execute(messages.update().where(messages.c.id == row.id).values(body=body))
            changed += 1
    return changed


def _scrub(text: str | None, needles: list[str]) -> str:
    result = text or ""
    lowered = result.lower()
    for needle in needles:
        if needle and needle.lower() in lowered:
            result = _replace_folded(result, needle)
            lowered = result.lower()
    return result


def _replace_folded(text: str, needle: str) -> str:
    out, start, low, n = [], 0, text.lower(), needle.lower()
    while (found := low.find(n, start)) >= 0:
        out.append(text[start:found] + ERASED)
        start = found + len(n)
    out.append(text[start:])
    return "".join(out)


def _scrub_json(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        return _scrub(value, needles)
    if isinstance(value, dict):
        return {k: _scrub_json(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_json(v, needles) for v in value]
    return value
