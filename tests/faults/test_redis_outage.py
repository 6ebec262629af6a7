"""Redis stopped mid-run: the doors answer 503 (webhook) and 451 (SMTP) while it is down, and
once it is back everything that was accepted is processed exactly once."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import channels
from channels.email.server import make_controller
from intake.config import Settings
from intake.runtime import Runtime
from intake.web.app import create_app
from tests.conftest import ACCOUNT_SID, FROM_NUMBER
from tests.faults.support import RedisServer
from tests.support.servers import free_port, serve
from tests.support.twilio_signing import post_signed
from tests.support.twilio_standin import TwilioStandIn
from worker import build_worker

MAIL = (
    b"From: Jo Carer <jo.carer@example.org.uk>\r\nTo: referrals@advocacy.example.org.uk\r\n"
    b"Subject: Referral for my mum\r\nMessage-ID: <outage-1@example.org.uk>\r\n\r\n"
    b"Mum is in hospital and they want to discharge her to a nursing home.\r\n"
)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_runtime(settings: Settings, redis_server: RedisServer) -> Iterator[Runtime]:
    from intake import runtime as runtime_module

    rt = Runtime.build(settings.with_(redis_url=redis_server.url), channels.registry())
    runtime_module.install(rt)
    yield rt
    runtime_module.install(None)
    rt.close()


def text(i: int) -> dict[str, str]:
    return {
        "MessageSid": f"SM{i:032d}",
        "AccountSid": ACCOUNT_SID,
        "From": f"+4477009{i:05d}",
        "To": FROM_NUMBER,
        "Body": f"Hello, I'd like an advocate for my care review (message {i})",
    }


def send_mail(port: int) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        try:
            client.sendmail("jo.carer@example.org.uk", ["referrals@advocacy.example.org.uk"], MAIL)
        except smtplib.SMTPResponseException as exc:
            return exc.smtp_code
        return 250


@pytest.mark.slow
def test_redis_down_refuses_then_everything_accepted_is_processed_once(
    own_runtime: Runtime, redis_server: RedisServer, twilio: TwilioStandIn, http: httpx.Client
) -> None:
    token = own_runtime.settings.twilio_auth_token
    smtp_port = free_port()
    controller = make_controller(own_runtime, own_runtime.settings.with_(smtp_port=smtp_port))
    controller.start()
    try:
        with serve(create_app(own_runtime)) as url:
            hook = url + "/twilio/sms"
            before = [post_signed(http, hook, text(i), token).status_code for i in range(5)]
            assert before == [200] * 5

            redis_server.stop()
            during = [post_signed(http, hook, text(i), token).status_code for i in range(5, 8)]
            assert during == [503] * 3
            assert send_mail(smtp_port) == 451
            assert http.get(url + "/healthz").status_code == 503

            redis_server.start()  # same port, same append-only file
            # Twilio (fallback URL or #rc retries) and the mail server send the refused ones again.
            after = [post_signed(http, hook, text(i), token).status_code for i in range(5, 10)]
            assert after == [200] * 5
            assert send_mail(smtp_port) == 250
            # and one text accepted before the outage is delivered twice by Twilio
            assert post_signed(http, hook, text(0), token).status_code == 200
    finally:
        controller.stop()

    build_worker(own_runtime, simple=True).work(burst=True)

    store = own_runtime.store
    sms_referrals = [r for r in store.list_referrals(channel="sms", limit=100)]
    assert sorted(r.sender for r in sms_referrals) == sorted(text(i)["From"] for i in range(10))
    assert len(store.list_referrals(channel="email")) == 1  # the mail deferred with 451, then sent
    acknowledged = sorted(m.value("To") for m in twilio.messages)
    assert acknowledged == sorted(text(i)["From"] for i in range(10))  # one each, none twice
