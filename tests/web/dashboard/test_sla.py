"""Time to triage: due times, overdue marking, and the once-only on-call alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from intake import sla
from intake.models import utcnow
from intake.runtime import Runtime
from tests.support.twilio_standin import TwilioStandIn
from tests.web.dashboard.conftest import post_action

POLICY = sla.Policy()
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
FRIDAY_16 = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
SATURDAY_9 = datetime(2026, 3, 7, 9, 0, tzinfo=UTC)


def test_due_times_per_urgency() -> None:
    assert sla.due_at(MONDAY_10, "emergency", POLICY) == MONDAY_10 + timedelta(minutes=15)
    assert sla.due_at(MONDAY_10, "urgent", POLICY) == MONDAY_10 + timedelta(hours=4)
    assert sla.due_at(MONDAY_10, "routine", POLICY) == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def test_routine_counts_working_days_only() -> None:
    assert sla.due_at(FRIDAY_16, "routine", POLICY) == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
    assert sla.due_at(SATURDAY_9, "routine", POLICY) == datetime(2026, 3, 11, 9, 0, tzinfo=UTC)


def test_policy_comes_from_settings(settings) -> None:
    policy = sla.Policy.from_settings(
        settings.with_(sla_emergency_minutes=5, sla_urgent_minutes=60, sla_routine_working_days=3)
    )
    assert policy == sla.Policy(timedelta(minutes=5), timedelta(hours=1), 3)


def test_overdue_marking_and_the_clock_stopping() -> None:
    received = MONDAY_10
    on_time = sla.timer(received, "emergency", "open", received + timedelta(minutes=10), POLICY)
    late = sla.timer(received, "emergency", "open", received + timedelta(minutes=20), POLICY)
    assert on_time is not None and not on_time.overdue and on_time.label == "due in 5 min"
    assert late is not None and late.overdue and late.label == "overdue by 5 min"
    assert (
        sla.timer(received, "emergency", "triaged", received + timedelta(hours=1), POLICY) is None
    )


def test_the_alert_goes_on_the_channel_that_reaches_the_contact(runtime: Runtime) -> None:
    assert runtime.channels.for_address("+447700900999").name == "sms"  # type: ignore[union-attr]
    assert runtime.channels.for_address("07700 900999").name == "sms"  # type: ignore[union-attr]
    assert runtime.channels.for_address("oncall@example.org").name == "email"  # type: ignore[union-attr]
    assert runtime.channels.for_address("  ") is None


def test_overdue_rows_are_marked_on_the_queue(live_url: str, advocate: httpx.Client, seed) -> None:
    late = seed(
        "ive taken all my tablets i cant do this anymore",
        received_at=utcnow() - timedelta(minutes=40),
        sender="+447700900601",
    )
    fresh = seed("ive taken all my tablets i cant go on", sender="+447700900602")
    html = advocate.get(live_url + "/").text
    late_row = html[html.index(f'data-reference="{late}"') :].split("</tr>")[0]
    fresh_row = html[html.index(f'data-reference="{fresh}"') :].split("</tr>")[0]
    assert f'<tr class="urgency-emergency overdue needs-action" data-reference="{late}"' in html
    assert f'<tr class="urgency-emergency needs-action" data-reference="{fresh}"' in html
    assert "Overdue by 25 min" in late_row
    # the absolute due time, in the service's zone (Europe/London by default)
    dues = [sla.local(utcnow() - timedelta(minutes=m), "Europe/London") for m in (25, 26)]
    assert any(f"(due {d:%H:%M})" in late_row or f"(due {d:%a %H:%M})" in late_row for d in dues)
    assert "Overdue" not in fresh_row
    dues = [sla.local(utcnow() + timedelta(minutes=m), "Europe/London") for m in (14, 15)]
    assert any(f"Due {d:%H:%M}" in fresh_row or f"Due {d:%a %H:%M}" in fresh_row for d in dues)


def test_unclaimed_overdue_emergency_alerts_on_call_once(
    runtime: Runtime, twilio: TwilioStandIn, seed
) -> None:
    runtime.settings = runtime.settings.with_(oncall_manager_contact="+447700900999")
    late = seed(
        "ive taken all my tablets i cant do this anymore",
        received_at=utcnow() - timedelta(minutes=20),
        sender="+447700900701",
    )
    seed("ive taken all my tablets i cant go on", sender="+447700900702")  # not yet due
    acks = len(twilio.messages)

    assert sla.check_overdue(runtime) == [late]
    assert sla.check_overdue(runtime) == []  # once only
    alerts = twilio.messages[acks:]
    assert len(alerts) == 1
    assert alerts[0].value("To") == "+447700900999"
    assert late in alerts[0].value("Body")
    assert "sla.alerted" in [e["action"] for e in runtime.store.audit_for()]


def test_claimed_emergency_does_not_alert(
    runtime: Runtime, live_url: str, advocate: httpx.Client, twilio: TwilioStandIn, seed
) -> None:
    runtime.settings = runtime.settings.with_(oncall_manager_contact="+447700900999")
    late = seed(
        "ive taken all my tablets i cant do this anymore",
        received_at=utcnow() - timedelta(minutes=20),
    )
    post_action(advocate, live_url, late, "claim")
    assert sla.check_overdue(runtime) == []


def test_no_alert_without_an_on_call_contact(runtime: Runtime, seed) -> None:
    seed("ive taken all my tablets", received_at=utcnow() - timedelta(hours=1))
    assert sla.check_overdue(runtime) == []


def test_overdue_alert_by_email_is_a_proper_message(runtime: Runtime, seed) -> None:
    """An email on-call contact gets a real email (subject, no message text) through the relay."""
    from aiosmtpd.controller import Controller

    from tests.support.servers import free_port

    received: list[bytes] = []

    class Relay:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            received.append(envelope.original_content)  # type: ignore[attr-defined]
            return "250 OK"

    port = free_port()
    controller = Controller(Relay(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        runtime.settings = runtime.settings.with_(
            oncall_manager_contact="manager@advocacy.example.org",
            smtp_relay_url=f"smtp://127.0.0.1:{port}",
            email_from="intake@advocacy.example.org",
        )
        late = seed(
            "ive taken all my tablets i cant do this anymore",
            received_at=utcnow() - timedelta(minutes=20),
        )
        assert sla.check_overdue(runtime) == [late]
    finally:
        controller.stop()
    [raw] = received
    assert b"unclaimed past its time" in raw
    assert b"Subject: intake: emergency " + late.encode() in raw
    assert b"tablets" not in raw
