"""The SMS adapter: Twilio's form → InboundMessage (a table of cases), and the webhook's answers."""

from __future__ import annotations

import httpx
import pytest
from rq import Queue

from channels.sms.webhook import EMPTY_TWIML, message_from_form
from intake.queue import queue_name
from intake.runtime import Runtime
from tests.conftest import AUTH_TOKEN
from tests.support.twilio_signing import post_signed, sign

BASE_FORM = {
    "MessageSid": "SM" + "a" * 32,
    "AccountSid": "AC" + "1" * 32,
    "From": "+447700900123",
    "To": "+447700900001",
    "Body": "Hello, I need an advocate for my dad",
    "NumMedia": "0",
}

CASES = [
    (
        "plain text",
        BASE_FORM,
        {"channel": "sms", "sender": "+447700900123", "body": BASE_FORM["Body"]},
    ),
    (
        "picture message",
        {
            **BASE_FORM,
            "NumMedia": "1",
            "MediaUrl0": "https://api.twilio.com/m/ME1",
            "MediaContentType0": "image/jpeg",
        },
        {"media": [{"url": "https://api.twilio.com/m/ME1", "content_type": "image/jpeg"}]},
    ),
    (
        "opt-out keyword",
        {**BASE_FORM, "Body": "STOP", "OptOutType": "STOP"},
        {"OptOutType": "STOP"},
    ),
    ("empty body", {**BASE_FORM, "Body": ""}, {"body": ""}),
    (
        "unknown fields ignored",
        {**BASE_FORM, "SomethingNew": "x"},
        {"provider_id": BASE_FORM["MessageSid"]},
    ),
    ("bad NumMedia", {**BASE_FORM, "NumMedia": "lots"}, {"body": BASE_FORM["Body"]}),
]


@pytest.mark.parametrize(("name", "form", "expected"), CASES, ids=[c[0] for c in CASES])
def test_message_from_form(name: str, form: dict[str, str], expected: dict[str, object]) -> None:
    message = message_from_form(form)
    for key, value in expected.items():
        actual = getattr(message, key) if hasattr(message, key) else message.meta.get(key)
        assert actual == value, key
    assert "SomethingNew" not in message.meta


def _queued(runtime: Runtime) -> int:
    return sum(
        Queue(queue_name(runtime.settings, p), connection=runtime.redis).count
        for p in ("high", "default")
    )


def test_signed_webhook_queues_one_job_and_answers_empty_twiml(
    runtime: Runtime, live_url: str, http: httpx.Client
) -> None:
    response = post_signed(http, live_url + "/twilio/sms", BASE_FORM, AUTH_TOKEN)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text == EMPTY_TWIML
    assert _queued(runtime) == 1


@pytest.mark.parametrize(
    "signature",
    ["", "forged", sign("some-other-token", "http://x/twilio/sms", BASE_FORM)],
    ids=["unsigned", "garbage", "wrong-token"],
)
def test_unsigned_or_forged_webhook_is_refused_and_nothing_queued(
    runtime: Runtime, live_url: str, http: httpx.Client, signature: str
) -> None:
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = http.post(live_url + "/twilio/sms", data=BASE_FORM, headers=headers)
    assert response.status_code == 403
    assert _queued(runtime) == 0


def test_signature_over_tampered_body_is_refused(
    runtime: Runtime, live_url: str, http: httpx.Client
) -> None:
    url = live_url + "/twilio/sms"
    signature = sign(AUTH_TOKEN, url, BASE_FORM)
    tampered = {**BASE_FORM, "Body": "something else"}
    response = http.post(url, data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert _queued(runtime) == 0


def test_public_base_url_is_what_gets_validated(runtime: Runtime, http: httpx.Client) -> None:
    """Behind a proxy Twilio signs the public URL, not the one the app sees."""
    from intake.web.app import create_app
    from tests.support.servers import serve

    public = "https://intake.example.org"
    runtime.settings = runtime.settings.with_(public_base_url=public)
    with serve(create_app(runtime)) as url:
        as_seen = post_signed(http, url + "/twilio/sms", BASE_FORM, AUTH_TOKEN)
        as_public = post_signed(
            http, url + "/twilio/sms", BASE_FORM, AUTH_TOKEN, signed_url=public + "/twilio/sms"
        )
    assert as_seen.status_code == 403
    assert as_public.status_code == 200
    assert _queued(runtime) == 1


def test_redis_unreachable_answers_503(runtime: Runtime, http: httpx.Client) -> None:
    from intake.queue import connect
    from intake.web.app import create_app
    from tests.support.servers import free_port, serve

    runtime.redis = connect(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with serve(create_app(runtime)) as url:
        response = post_signed(http, url + "/twilio/sms", BASE_FORM, AUTH_TOKEN)
    assert response.status_code == 503
