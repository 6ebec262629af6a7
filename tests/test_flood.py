"""A flood must not hide a real emergency (issue 15, security 2).

The attack, as it was tried: 205 unauthenticated emails "I have taken all my tablets" in about a
second, then one genuine emergency text. Before: 206 on-call texts and 206 on-call emails, and the
text lost among them. Now, through the real SMTP server, signed SMS webhook and a real worker:
every message is stored; the burst is one incident, shown on the queue; on-call gets the first
alerts, one incident alert, the genuine text's own alert and one digest, not 206.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx
import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from intake.config import Settings
from intake.queue import queues
from intake.runtime import Runtime
from intake.screening import screen
from intake.users import add_user
from tests.channels.email.smtp_support import INTAKE_ADDRESS, RecordingRelay
from tests.channels.sms.support import Phone
from tests.support.twilio_standin import TwilioStandIn
from tests.web.dashboard.conftest import PASSWORD, log_in
from worker import build_worker

FLOOD = 205
FLOOD_TEXT = "I have taken all my tablets"
ONCALL_PHONE = "+447700900999"
ONCALL_EMAIL = "oncall@advocacy.example.org"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(
        session_cookie_secure=False,
        secret_key="test-secret-" + "x" * 20,
        oncall_duty_contacts=(ONCALL_PHONE, ONCALL_EMAIL),
    )


def run_due_scheduled(rt: Runtime) -> int:
    """Make every scheduled job due now and let RQ's own scheduler queue it (what a worker's
    scheduler does when the delay is over), instead of waiting two minutes."""
    moved = 0
    past = datetime.now(UTC) - timedelta(seconds=1)
    qs = queues(rt.settings, rt.redis)
    for queue in qs:
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            registry.schedule(Job.fetch(job_id, connection=rt.redis), past)
            moved += 1
    scheduler = RQScheduler([q.name for q in qs], connection=rt.redis)
    assert scheduler.acquire_locks() == {q.name for q in qs}
    try:
        scheduler.enqueue_scheduled_jobs()
    finally:
        scheduler.release_locks()
        scheduler.connection.close()
    return moved


def alerts_to(rt: Runtime, contact: str) -> list[dict[str, object]]:
    """Every on-call notice sent to `contact`, oldest first (from the outbound record)."""
    import sqlalchemy as sa

    from intake.store.schema import outbound

    with rt.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbound)
            .where(outbound.c.kind == "alert", outbound.c.recipient == contact)
            .order_by(outbound.c.id)
        )
        return [dict(r._mapping) for r in rows]


@pytest.mark.slow
def test_205_emergency_emails_make_one_incident_and_a_few_alerts_and_a_real_text_still_alerts(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    smtp: Settings,
    relay: RecordingRelay,
) -> None:
    settings = runtime.settings
    assert screen(FLOOD_TEXT, "email").urgency == "emergency"
    with smtplib.SMTP(smtp.smtp_host, smtp.smtp_port, timeout=30) as client:
        for n in range(FLOOD):
            message = EmailMessage()
            message["From"] = f"flood{n}@example.net"
            message["To"] = INTAKE_ADDRESS
            message["Subject"] = "help"
            message["Message-ID"] = f"<flood-{n}@example.net>"
            message.set_content(FLOOD_TEXT)
            client.send_message(message, from_addr=f"flood{n}@example.net")
    genuine = Phone(runtime, live_url, http, twilio, "+447700900456")
    genuine.text("I've taken 30 paracetamol and I want to die")  # runs the worker too
    build_worker(runtime, simple=True).work(burst=True)

    referrals = runtime.store.list_referrals(limit=500)
    assert len(referrals) == FLOOD + 1  # nothing was dropped
    text = next(r for r in referrals if r.channel == "sms")
    assert text.urgency == "emergency"

    [incident] = runtime.store.incidents.recent(datetime.now(UTC) - timedelta(hours=1))
    assert (incident["channel"], incident["referrals"]) == ("email", FLOOD)
    assert incident["emergencies"] == FLOOD and incident["senders"] == FLOOD

    for contact in (ONCALL_PHONE, ONCALL_EMAIL):
        sent = [str(a["dedupe_key"]) for a in alerts_to(runtime, contact)]
        singles = [k for k in sent if k.startswith("emergency-alert:")]
        # the first of the flood (within the per-source limit), then the real text's own
        assert len(singles) == settings.alert_source_limit + 1
        assert any(text.reference in k for k in singles)
        assert len([k for k in sent if k.startswith("incident-alert:")]) == 1
        assert not [k for k in sent if k.startswith("emergency-digest:")]  # not yet

    # the coalescing window ends: one digest per contact with every alert held back
    assert run_due_scheduled(runtime) == 1
    build_worker(runtime, simple=True).work(burst=True)
    held = FLOOD - settings.alert_source_limit
    for contact in (ONCALL_PHONE, ONCALL_EMAIL):
        sent = alerts_to(runtime, contact)
        assert len(sent) == settings.alert_source_limit + 1 + 1 + 1  # not 206
        [digest] = [a for a in sent if str(a["dedupe_key"]).startswith("emergency-digest:")]
        assert f"{held} more emergency referrals" in str(digest["body"])
        assert all(FLOOD_TEXT not in str(a["body"]) for a in sent)  # never what was written
    texts = [m.value("Body") for m in twilio.messages if m.value("To") == ONCALL_PHONE]
    assert len(texts) == settings.alert_source_limit + 3

    # acknowledgements to the flood's addresses stop at the per-source limit
    acked = [r for r in relay.received if r.rcpt_tos[0].startswith("flood")]
    assert len(acked) == settings.ack_source_limit

    # the queue page says so, once, with a page listing the incident's referrals
    add_user(runtime.store, "duty@advocacy.example.org", PASSWORD, "advocate")
    with httpx.Client(timeout=30) as advocate:
        assert log_in(advocate, live_url, "duty@advocacy.example.org").status_code == 303
        queue = advocate.get(live_url + "/").text
        assert queue.count("Possible flood") == 1
        assert f"{FLOOD} email referrals ({FLOOD} read as emergencies)" in queue
        page = advocate.get(f"{live_url}/incidents/{incident['id']}")
        assert page.status_code == 200 and page.text.count("/referrals/REF-") == FLOOD
        assert text.reference not in page.text  # the real text is not part of it
