"""The immediate on-call alert for emergencies: once per contact, no message text, SMS and email."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from aiosmtpd.controller import Controller

from intake.models import Referral
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


# -- coalescing (issue 15): a flood does not bury on-call, a person's raise is never held -------

TAKEN = "I've taken 40 paracetamol, I want to die"


def _emergency(runtime: Runtime, n: int, sender: str) -> Referral:
    from intake import pipeline
    from intake.models import InboundMessage

    message = InboundMessage("sms", f"SM{n:032d}", sender, "+447700900001", TAKEN)
    result = pipeline.receive(runtime, "sms", message.to_payload())
    found = runtime.store.get_referral(str(result.reference))
    assert found is not None
    return found


def _alert_keys(runtime: Runtime) -> list[str]:
    import sqlalchemy as sa

    from intake.store.schema import outbound

    with runtime.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbound.c.dedupe_key)
            .where(outbound.c.kind == "alert", outbound.c.recipient == ONCALL_SMS)
            .order_by(outbound.c.id)
        )
        return [str(r[0]) for r in rows]


def test_alerts_beyond_the_window_wait_for_one_digest_and_a_raise_is_never_held(
    runtime: Runtime, twilio: TwilioStandIn
) -> None:
    from intake import alerts

    runtime.settings = runtime.settings.with_(
        oncall_duty_contacts=(ONCALL_SMS,), alert_coalesce_after=2, alert_source_limit=10
    )
    made = [_emergency(runtime, n, f"+4477009005{n:02d}") for n in range(5)]
    keys = _alert_keys(runtime)
    assert len(keys) == 2  # the first two at once, three held
    held = [
        e for e in runtime.store.audit_for() if e["action"] == "referral.oncall_alert_held"
    ]
    assert len(held) == 3
    # a re-run of a held job does not slip through individually
    again = pipeline_rerun(runtime, 4)
    assert again == made[4].reference and len(_alert_keys(runtime)) == 2
    # an advocate's raise goes at once, whatever the window says
    assert alerts.alert_emergency(runtime, made[3], why="raised", occasion="raise-1") == [
        ONCALL_SMS
    ]
    digest_id = runtime.redis.get(f"{runtime.settings.queue_prefix}:alert-digest:scheduled")
    assert digest_id is not None
    assert alerts.send_digest(runtime, digest_id.decode()) == [ONCALL_SMS]
    assert alerts.send_digest(runtime, digest_id.decode()) == []  # a retry sends nothing more
    body = twilio.messages[-1].value("Body")
    assert "3 more emergency referrals" in body
    assert all(r.reference in body for r in made[2:])
    assert "paracetamol" not in body


def pipeline_rerun(runtime: Runtime, n: int) -> str:
    from intake import pipeline
    from intake.models import InboundMessage

    message = InboundMessage("sms", f"SM{n:032d}", f"+4477009005{n:02d}", "+447700900001", TAKEN)
    return str(pipeline.receive(runtime, "sms", message.to_payload()).reference)


def test_with_redis_down_every_alert_goes_at_once(runtime: Runtime, twilio: TwilioStandIn) -> None:
    from redis import Redis

    runtime.settings = runtime.settings.with_(
        oncall_duty_contacts=(ONCALL_SMS,), alert_coalesce_after=1
    )
    working = runtime.redis
    made = [_emergency(runtime, 10 + n, f"+4477009006{n:02d}") for n in range(2)]
    assert len(_alert_keys(runtime)) == 1
    runtime.redis = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    try:
        from intake import alerts

        assert alerts.alert_emergency(runtime, made[1], why="new", occasion="x") == [ONCALL_SMS]
    finally:
        runtime.redis = working
