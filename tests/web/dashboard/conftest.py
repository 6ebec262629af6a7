"""Dashboard fixtures: accounts, a logged-in client, referrals seeded through the real pipeline."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime

import httpx
import pytest

from intake import pipeline
from intake.config import Settings
from intake.models import InboundMessage, utcnow
from intake.runtime import Runtime
from intake.store import Store
from intake.users import add_user

PASSWORD = "a long enough passphrase"
ADVOCATE = "advocate@example.org"
MANAGER = "manager@example.org"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # httpx (like every cookie jar) will not send a Secure cookie over plain http on loopback
    return settings.with_(session_cookie_secure=False, secret_key="test-secret-" + "x" * 20)


@pytest.fixture
def accounts(runtime: Runtime) -> Store:
    add_user(runtime.store, ADVOCATE, PASSWORD, "advocate")
    add_user(runtime.store, MANAGER, PASSWORD, "manager")
    return runtime.store


def csrf_from(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(client: httpx.Client, base: str, email: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf_from(client.get(base + "/login").text)
    return client.post(
        base + "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/"},
    )


@pytest.fixture
def advocate(live_url: str, accounts: Store) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        assert log_in(client, live_url, ADVOCATE).status_code == 303
        yield client


@pytest.fixture
def manager(live_url: str, accounts: Store) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        assert log_in(client, live_url, MANAGER).status_code == 303
        yield client


Seed = Callable[..., str]


@pytest.fixture
def seed(runtime: Runtime) -> Seed:
    """Send a message through the real pipeline (screen, extract, store, ack): its reference."""

    def make(
        body: str,
        *,
        channel: str = "sms",
        sender: str = "+447700900123",
        received_at: datetime | None = None,
        meta: dict[str, object] | None = None,
    ) -> str:
        message = InboundMessage(
            channel=channel,
            provider_id=("SM" if channel == "sms" else "X") + secrets.token_hex(16),
            sender=sender,
            recipient="+447700900001",
            body=body,
            received_at=received_at or utcnow(),
            meta=dict(meta or {}),
        )
        # past the channel's door (a voice "message" here has no call behind it), then the pipeline
        channel = runtime.channels.get(message.channel)
        return pipeline.process(runtime, channel, message).reference

    return make


def post_action(
    client: httpx.Client, base: str, reference: str, action: str, **data: str
) -> httpx.Response:
    token = csrf_from(client.get(f"{base}/referrals/{reference}").text)
    return client.post(f"{base}/referrals/{reference}/{action}", data={"csrf_token": token, **data})
