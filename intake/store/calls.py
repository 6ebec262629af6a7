"""Phone calls to the voicemail line: one row per Twilio CallSid.

A call's events are applied under a per-call lock (`channels/voice`), so these are plain reads and
writes; the unique `call_sid` keeps a second insert of the same call harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from intake.models import utcnow
from intake.store.database import Queries
from intake.store.schema import voice_calls

OUTCOMES = ("in_progress", "voicemail", "emergency", "missed")


class Calls(Queries):
    """`store.calls`."""

    def ensure(
        self,
        call_sid: str,
        *,
        sender: str,
        recipient: str,
        withheld: bool,
        started_at: datetime,
    ) -> dict[str, Any]:
        """The call's row, made on the first event that knows the caller; fills a blank caller."""
        call = self.get(call_sid)
        if call is None:
            try:
                with self.db.attempt() as conn:
                    conn.execute(
                        voice_calls.insert().values(
                            call_sid=call_sid,
                            sender=sender,
                            recipient=recipient,
                            withheld=withheld,
                            outcome="in_progress",
                            call_status="",
                            started_at=started_at,
                            updated_at=utcnow(),
                        )
                    )
            except IntegrityError:
                pass  # another event made it first
            call = self.get(call_sid)
            assert call is not None
        elif not call["sender"] and not call["withheld"] and (sender or withheld):
            self.update(call_sid, sender=sender, recipient=recipient, withheld=withheld)
            call = {**call, "sender": sender, "recipient": recipient, "withheld": withheld}
        return call

    def get(self, call_sid: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(voice_calls).where(voice_calls.c.call_sid == call_sid)
            ).first()
        return dict(row._mapping) if row else None

    def update(self, call_sid: str, **values: Any) -> None:
        values["updated_at"] = utcnow()
        with self.db.transaction() as conn:
            conn.execute(
                voice_calls.update().where(voice_calls.c.call_sid == call_sid).values(**values)
            )

    def missed(
        self, *, include_called_back: bool = False, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Missed calls, newest first: the call-back list."""
        query = sa.select(voice_calls).where(voice_calls.c.outcome == "missed")
        if not include_called_back:
            query = query.where(voice_calls.c.called_back_at.is_(None))
        query = query.order_by(voice_calls.c.started_at.desc(), voice_calls.c.id.desc())
        with self.db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query.limit(limit).offset(offset))]

    def mark_called_back(self, call_id: int, actor: str) -> bool:
        """Record that someone rang the caller back; False when there is no such missed call."""
        with self.db.transaction() as conn:
            done = conn.execute(
                voice_calls.update()
                .where(voice_calls.c.id == call_id, voice_calls.c.outcome == "missed")
                .values(called_back_at=utcnow(), called_back_by=actor, updated_at=utcnow())
            )
        return bool(done.rowcount)
