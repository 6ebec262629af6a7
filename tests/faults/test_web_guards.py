"""Guards at the web door: request size limits and Twilio signatures on every webhook route."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.routing import Route

from intake.runtime import Runtime
from intake.web.app import create_app
from tests.conftest import ACCOUNT_SID, FROM_NUMBER
from tests.support.servers import serve
from tests.support.twilio_signing import sign

LIMIT = 4096


@pytest.fixture
def small_limit_url(runtime: Runtime) -> Iterator[str]:
    """The real app with a small body limit, so an over-limit body is cheap to send."""
    runtime.settings = runtime.settings.with_(max_request_body=LIMIT)
    with serve(create_app(runtime)) as url:
        yield url


def sms_form(body: str) -> dict[str, str]:
    return {
        "MessageSid": "SM" + "7" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": "+447700900777",
        "To": FROM_NUMBER,
        "Body": body,
    }


def test_a_body_over_the_limit_gets_413_before_the_signature_is_checked(
    small_limit_url: str, http: httpx.Client
) -> None:
    response = http.post(small_limit_url + "/twilio/sms", data=sms_form("x" * (LIMIT * 2)))
    assert response.status_code == 413


def test_a_chunked_body_over_the_limit_gets_413(small_limit_url: str, http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(16):
            yield b"Body=" + b"y" * 1024 + b"&"

    response = http.post(
        small_limit_url + "/twilio/sms",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "content-length" not in response.request.headers  # really sent chunked
    assert response.status_code == 413


def test_a_body_under_the_limit_is_let_through(
    small_limit_url: str, runtime: Runtime, http: httpx.Client
) -> None:
    form = sms_form("Can someone help my brother with his PIP appeal please")
    url = small_limit_url + "/twilio/sms"
    signature = sign(runtime.settings.twilio_auth_token, url, form)
    response = http.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200


def twilio_routes(runtime: Runtime) -> list[tuple[str, str]]:
    """Every webhook route the app serves under /twilio/, found from the app itself."""
    app = create_app(runtime)
    found = []
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/twilio/"):
            for method in sorted((route.methods or {"POST"}) - {"HEAD"}):
                found.append((method, route.path))
    return found


def concrete(path: str) -> str:
    """Fill any `{param}` in a route path with a plausible value."""
    import re

    return re.sub(r"\{[^}]+\}", "CA" + "0" * 32, path)


def test_every_twilio_webhook_refuses_a_missing_or_forged_signature(
    runtime: Runtime, live_url: str, http: httpx.Client
) -> None:
    routes = twilio_routes(runtime)
    assert ("POST", "/twilio/sms") in routes
    form = {
        **sms_form("I need an advocate for my dad's care act assessment"),
        "CallSid": "CA" + "1" * 32,
    }
    for method, path in routes:
        url = live_url + concrete(path)
        unsigned = http.request(method, url, data=form)
        forged = http.request(
            method, url, data=form, headers={"X-Twilio-Signature": sign("not-our-token", url, form)}
        )
        tampered_sig = sign(runtime.settings.twilio_auth_token, url, form)
        tampered = http.request(
            method,
            url,
            data={**form, "Body": form["Body"] + " (edited)"},
            headers={"X-Twilio-Signature": tampered_sig},
        )
        for response in (unsigned, forged, tampered):
            assert response.status_code == 403, (method, path, response.status_code)
