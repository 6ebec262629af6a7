"""A real Chromium (Debian's, at /usr/bin/chromium) driven by Playwright's sync API.

`make test` runs `scripts/ensure-chromium.sh` first. When Chromium still cannot be started the
browser tests are skipped with a loud reason, never silently.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from intake import pipeline
from intake.config import Settings
from intake.models import InboundMessage, utcnow
from intake.runtime import Runtime
from intake.users import add_user

CHROMIUM = os.environ.get("INTAKE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
PASSWORD = "a long enough passphrase"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # the session cookie stays Secure: Chromium accepts Secure cookies on loopback http
    return settings.with_(secret_key="browser-test-" + "y" * 20, org_name="Northgate Advocacy")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"!!! BROWSER TESTS SKIPPED: {CHROMIUM} is not installed "
            "(run scripts/ensure-chromium.sh or apt-get install chromium) !!!"
        )
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        except Error as exc:
            pytest.skip(f"!!! BROWSER TESTS SKIPPED: Chromium would not start: {exc} !!!")
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


@pytest.fixture
def advocate_account(runtime: Runtime) -> str:
    email = "duty.advocate@example.org"
    add_user(runtime.store, email, PASSWORD, "advocate")
    return email


@pytest.fixture
def seed(runtime: Runtime) -> Callable[..., str]:
    def make(
        body: str,
        *,
        sender: str,
        received_at: datetime | None = None,
        channel: str = "sms",
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


SERIOUS = ("serious", "critical")


def axe_violations(page: object) -> list[str]:
    """Serious and critical axe-core violations on the page as it is now (axe-core is loaded
    from the file axe-playwright-python vendors: no network)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert "violations" in results.response, "axe-core did not run"
    found = results.response.get("violations", [])
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v.get("impact") in SERIOUS
    ]


def log_in(page: object, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base + "/login")  # type: ignore[attr-defined]
    page.get_by_label("Email").fill(email)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Log in").click()  # type: ignore[attr-defined]
    page.wait_for_url(base + "/")  # type: ignore[attr-defined]
