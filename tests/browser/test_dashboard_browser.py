"""A duty advocate's first minutes, in a real browser: log in, spot the emergency, act on it."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from intake.models import utcnow
from intake.runtime import Runtime
from tests.browser.conftest import PASSWORD
from tests.support.twilio_standin import TwilioStandIn

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-queue.png"
EMERGENCY = "please help ive taken all my tablets, 800mg, i cant do this anymore"


def test_triage_an_emergency_sms_end_to_end(
    runtime: Runtime,
    live_url: str,
    page,
    seed,
    advocate_account: str,
    twilio: TwilioStandIn,
    output_dir: Path,
) -> None:
    now = utcnow()
    seed(
        "Hello, my mum is in a care home in Harrogate and they want to move her, she has "
        "dementia and nobody to speak for her. Can you help? Karen",
        sender="+447700900111",
        received_at=now - timedelta(hours=3),
    )
    seed(
        "My neighbour keeps taking my dads bank card and his pension is gone, he is scared",
        sender="+447700900112",
        received_at=now - timedelta(hours=1),
    )
    emergency = seed(EMERGENCY, sender="+447700900113", received_at=now - timedelta(minutes=4))
    assert runtime.store.get_referral(emergency).urgency == "emergency"

    page.goto(live_url + "/")
    assert "/login" in page.url
    page.get_by_label("Email").fill(advocate_account)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_url + "/")

    first = page.locator("#queue-rows tr").first
    assert first.get_attribute("data-reference") == emergency
    assert "Emergency" in first.inner_text()

    # a referral arriving now appears without a reload (the page polls)
    late = seed(
        "I need an advocate for my brothers care act assessment next month",
        sender="+447700900114",
    )
    page.locator(f'#queue-rows tr[data-reference="{late}"]').wait_for(timeout=20_000)
    page.screenshot(path=str(output_dir / "dashboard-queue.png"), full_page=True)
    if not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copy(output_dir / "dashboard-queue.png", DOCS_SCREENSHOT)

    first.get_by_role("link", name=emergency).click()
    page.wait_for_url(f"{live_url}/referrals/{emergency}")
    marks = page.locator("blockquote.raw mark.match")
    assert marks.count() >= 1
    assert "taken all my tablets" in " ".join(marks.all_inner_texts())

    page.get_by_role("button", name="Claim").click()
    assert page.locator("#claimed-by").inner_text() == advocate_account

    before = len(twilio.messages)
    page.get_by_label("Reply message").select_option("call_back")
    page.get_by_role("button", name="Send reply").click()
    assert page.get_by_role("status").inner_text() == "Reply sent."
    sent = twilio.messages[before:]
    assert [m.value("To") for m in sent] == ["+447700900113"]
    assert emergency in sent[0].value("Body")

    page.get_by_role("button", name="Mark triaged").click()
    assert page.locator("#status").inner_text() == "Triaged"
    page.screenshot(path=str(output_dir / "dashboard-referral.png"), full_page=True)

    done = [
        (e["actor"], e["action"])
        for e in runtime.store.audit_for(runtime.store.get_referral(emergency).id)
    ]
    for action in ("referral.viewed", "referral.claimed", "referral.replied", "referral.triaged"):
        assert (advocate_account, action) in done


def test_queue_is_usable_on_a_phone_and_by_keyboard(
    browser, live_url: str, seed, advocate_account: str, output_dir: Path
) -> None:
    emergency = seed(EMERGENCY, sender="+447700900121")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(live_url + "/login")
        page.keyboard.press("Tab")  # skip link first
        assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
        page.get_by_label("Email").fill(advocate_account)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Password").press("Enter")
        page.wait_for_url(live_url + "/")
        row = page.locator(f'#queue-rows tr[data-reference="{emergency}"]')
        assert row.is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the queue must not scroll sideways on a phone"
        page.screenshot(path=str(output_dir / "dashboard-queue-phone.png"), full_page=True)
    finally:
        context.close()
