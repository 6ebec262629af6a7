"""The immediate on-call alert for emergencies: once per contact, no message text, SMS and email."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from aiosmtpd.controller import Controller

from intake.runtime import Runtime
from tests.channels.sms.test_end_to_end import drain, form
from tests.conftest import AUTH_TOKEN
from tests.support.servers import free_port
from tests.support.twilio_signing import post_signed
from tests.support.twilio_standin import TwilioStandIn

ONCALL_SMS = "+447700900999"
PUBLIC = "https://intake.example.org"
ONCALL_EMAIL = "duty@advocacy.example.org"


class Relay:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler = Relay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def oncall_runtime(runtime: Runtime, relay: tuple[Relay, int]) -> Runtime:
    runtime.settings = runtime.settings.with_(
        oncall_duty_contacts=(ONCALL_SMS, ONCALL_EMAIL),
        smtp_relay_url=f"smtp://127.0.0.1:{relay[1]}",
        email_from="intake@advocacy.example.org",
        public_base_url=PUBLIC,
    )
    return runtime


def text(http: httpx.Client, live_url: str, sid: str, body: str) -> None:
    """A signed webhook as Twilio sends it to the public URL."""
    response = post_signed(
        http,
        live_url + "/twilio/sms",
        form(sid, body),
        AUTH_TOKEN,
        signed_url=PUBLIC + "/twilio/sms",
    )
    assert response.status_code == 200


def test_emergency_alerts_each_contact_once_without_the_message_text(
    oncall_runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    relay: tuple[Relay, int],
) -> None:
    body = "ive taken all my tablets tonight nobody would miss me"
    for _ in range(2):  # a redelivery must not alert twice
        text(http, live_url, "SM" + "9" * 32, body)
    drain(oncall_runtime)

    alerts = [m for m in twilio.messages if m.value("To") == ONCALL_SMS]
    [alert] = alerts
    [referral] = oncall_runtime.store.list_referrals()
    assert referral.reference in alert.value("Body")
    assert "EMERGENCY" in alert.value("Body")
    assert "tablets" not in alert.value("Body")
    assert f"https://intake.example.org/referrals/{referral.reference}" in alert.value("Body")

    [(rcpts, raw)] = relay[0].messages
    assert rcpts == [ONCALL_EMAIL]
    assert f"Subject: intake EMERGENCY referral {referral.reference}".encode() in raw
    assert b"tablets" not in raw
    assert b"Auto-Submitted: auto-generated" in raw


def test_routine_referral_alerts_nobody(
    oncall_runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    relay: tuple[Relay, int],
) -> None:
    text(http, live_url, "SM" + "8" * 32, "what does an advocate do?")
    drain(oncall_runtime)
    assert [m.value("To") for m in twilio.messages] == ["+447700900123"]  # only the acknowledgement
    assert relay[0].messages == []


def test_alert_provider_down_still_acknowledges_then_retries(
    oncall_runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    oncall_runtime.settings = oncall_runtime.settings.with_(oncall_duty_contacts=(ONCALL_SMS,))
    twilio.fail_next(1, status=503)  # the alert is sent first and fails
    text(http, live_url, "SM" + "7" * 32, "he has a knife and says he will kill me now")
    drain(oncall_runtime)
    sent_to = [m.value("To") for m in twilio.messages if m.path.endswith("Messages.json")]
    assert sent_to == [ONCALL_SMS, "+447700900123"]  # failed alert, then the acknowledgement
    from rq.registry import ScheduledJobRegistry

    from intake.queue import queues

    scheduled = sum(
        ScheduledJobRegistry(queue=q).count
        for q in queues(oncall_runtime.settings, oncall_runtime.redis)
    )
    assert scheduled == 1  # the job waits for its retry, which will send only the alert


def test_an_emergency_raised_by_the_model_says_so_without_quoting_the_message(
    oncall_runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    oncall_runtime.settings = oncall_runtime.settings.with_(oncall_duty_contacts=(ONCALL_SMS,))
    body = "ive sorted everything so nobody has to worry about me after tonight"
    text(http, live_url, "SM" + "6" * 32, body)
    drain(oncall_runtime)
    [referral] = oncall_runtime.store.list_referrals()
    assert referral.urgency == "emergency"
    assert str(referral.screening["needs_review"]).startswith("model:")
    [alert] = [m for m in twilio.messages if m.value("To") == ONCALL_SMS]
    assert "Raised by the screening model" in alert.value("Body")
    for word in ("sorted", "everything", "tonight", "worry"):
        assert word not in alert.value("Body")
