"""Driving SMS conversations the way Twilio does: signed webhooks, then a real worker."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from intake.runtime import Runtime
from intake.store.schema import messages, referral_links, referrals, sms_conversations
from tests.conftest import ACCOUNT_SID, API_TOKEN, AUTH_TOKEN, FROM_NUMBER
from tests.support.twilio_signing import post_signed
from tests.support.twilio_standin import TwilioStandIn
from worker import build_worker

QUESTIONS = Path(__file__).resolve().parents[3] / "templates" / "questions"
_sids = itertools.count(1)


def question_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8").strip() for p in QUESTIONS.glob("*.txt")}


def questions_in(body: str) -> list[str]:
    """Which template questions a text we sent contains."""
    return [key for key, text in question_texts().items() if text in body]


class Phone:
    """One person texting intake from one number."""

    def __init__(
        self, runtime: Runtime, url: str, http: httpx.Client, twilio: TwilioStandIn, number: str
    ) -> None:
        self.runtime, self.url, self.http, self.twilio, self.number = (
            runtime,
            url,
            http,
            twilio,
            number,
        )

    def text(self, body: str, *, sid: str | None = None, **extra: str) -> str:
        """Post one signed inbound SMS and run the worker until the queue is empty."""
        sid = sid or f"SM{next(_sids):032d}"
        form = {
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": self.number,
            "To": FROM_NUMBER,
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        response = post_signed(self.http, self.url + "/twilio/sms", form, AUTH_TOKEN)
        assert response.status_code == 200, response.text
        build_worker(self.runtime, simple=True).work(burst=True)
        return sid

    def received(self) -> list[str]:
        """Bodies of every text that reached Twilio for this number, oldest first."""
        return [m.value("Body") for m in self.twilio.messages if m.value("To") == self.number]


def api_referrals(http: httpx.Client, url: str) -> list[dict[str, Any]]:
    response = http.get(
        url + "/api/referrals", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert response.status_code == 200
    return list(response.json()["referrals"])


def api_referral(http: httpx.Client, url: str, reference: str) -> dict[str, Any]:
    response = http.get(
        url + f"/api/referrals/{reference}", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert response.status_code == 200
    return dict(response.json())


def age_conversations(runtime: Runtime, minutes: float) -> None:
    """Make everything stored so far `minutes` older: time passing, without waiting for it."""
    delta = timedelta(minutes=minutes)
    tables = [
        (sms_conversations, sms_conversations.c.referral_id, "last_activity_at"),
        (messages, messages.c.id, "received_at"),
        (referrals, referrals.c.id, "received_at"),
    ]
    with runtime.store.engine.begin() as conn:
        for table, key, column in tables:
            for row_key, value in conn.execute(sa.select(key, table.c[column])).all():
                conn.execute(table.update().where(key == row_key).values({column: value - delta}))


def links(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(referral_links))]
