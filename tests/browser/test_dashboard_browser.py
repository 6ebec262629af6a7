"""A duty advocate's night, in a real browser (Debian's Chromium through Playwright): log in,
spot the emergency, act on it; the queue's order, its live title count, search, an email reply,
the keyboard, a phone; and axe-core on every page.

Screenshots land in test-output/; with INTAKE_SCREENSHOTS=docs they also replace the README's
pictures in docs/.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from intake import triage
from intake.models import utcnow
from intake.runtime import Runtime
from intake.users import add_user
from tests.browser.conftest import PASSWORD, axe_violations, log_in
from tests.channels.email.smtp_support import RecordingRelay
from tests.support.twilio_standin import TwilioStandIn

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"
EMERGENCY = "please help ive taken all my tablets, 800mg, i cant do this anymore"


def wait_for_title(page, prefix: str, seconds: float = 20) -> None:
    """The page's own CSP forbids eval, so poll the title from here."""
    import time

    deadline = time.monotonic() + seconds
    while not page.title().startswith(prefix):
        assert time.monotonic() < deadline, f"title still {page.title()!r}"
        page.wait_for_timeout(250)


def keep(output_dir: Path, name: str) -> None:
    """Copy a screenshot to docs/ when asked to (INTAKE_SCREENSHOTS=docs)."""
    if os.environ.get("INTAKE_SCREENSHOTS") == "docs":
        shutil.copy(output_dir / name, DOCS / name.replace("dashboard-", "screenshot-"))


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
        "Hello, my mum Margaret is in a care home in Harrogate and they want to move her, she "
        "has dementia and nobody to speak for her. Can you help? Karen, her daughter",
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

    first = page.locator("#queue-rows tr[data-reference]").first
    assert first.get_attribute("data-reference") == emergency
    assert "Emergency" in first.inner_text()

    # a referral arriving now appears without a reload
    late = seed(
        "I need an advocate for my brothers care act assessment next month",
        sender="+447700900114",
    )
    page.locator(f'#queue-rows tr[data-reference="{late}"]').wait_for(timeout=20_000)
    page.screenshot(path=str(output_dir / "dashboard-queue.png"), full_page=True)
    keep(output_dir, "dashboard-queue.png")

    first.get_by_role("link", name=emergency).click()
    page.wait_for_url(f"{live_url}/referrals/{emergency}")
    marks = page.locator("blockquote.raw mark.match")
    assert "taken all my tablets" in " ".join(marks.all_inner_texts())

    page.get_by_role("button", name="Claim").first.click()
    assert page.locator("#claimed-by").inner_text() == advocate_account

    before = len(twilio.messages)
    page.get_by_label("Reply message").select_option("call_back")
    page.get_by_role("button", name="Preview reply").click()
    preview = page.locator("#preview-text").inner_text()
    assert emergency in preview and "text back" in preview
    page.get_by_role("button", name="Send this reply").click()
    assert page.locator("p.flash").inner_text() == "Reply sent."
    sent = twilio.messages[before:]
    assert [m.value("To") for m in sent] == ["+447700900113"]
    assert sent[0].value("Body") == preview

    page.get_by_role("button", name="Mark triaged").first.click()
    assert page.locator("#status").inner_text() == "Triaged"
    page.screenshot(path=str(output_dir / "dashboard-referral.png"), full_page=True)
    keep(output_dir, "dashboard-referral.png")

    done = [
        (e["actor"], e["action"])
        for e in runtime.store.audit_for(runtime.store.get_referral(emergency).id)
    ]
    for action in ("referral.viewed", "referral.claimed", "referral.replied", "referral.triaged"):
        assert (advocate_account, action) in done


def test_an_unclaimed_emergency_is_listed_above_a_claimed_one_and_raises_the_title(
    runtime: Runtime, live_url: str, page, seed, advocate_account: str
) -> None:
    now = utcnow()
    claimed = seed(EMERGENCY, sender="+447700900131", received_at=now - timedelta(hours=1))
    unclaimed = seed(EMERGENCY, sender="+447700900132", received_at=now - timedelta(minutes=30))
    triage.claim(runtime, runtime.store.get_referral(claimed), "someone@example.org")
    log_in(page, live_url, advocate_account)
    rows = page.locator("#queue-rows tr[data-reference]")
    assert [rows.nth(i).get_attribute("data-reference") for i in range(2)] == [unclaimed, claimed]
    wait_for_title(page, "(1) ")

    # a new emergency raises the count in the tab's title, with no reload
    seed(EMERGENCY, sender="+447700900133")
    wait_for_title(page, "(2) ")
    assert "2 emergencies need a person now" in page.locator("#live-alert").inner_text()


def test_search_by_what_someone_wrote(
    live_url: str, page, seed, advocate_account: str
) -> None:
    lodge = seed(
        "My mum is at Willow Lodge and they want to move her next week", sender="+447700900141"
    )
    seed("I need help with a complaint about my GP surgery", sender="+447700900142")
    log_in(page, live_url, advocate_account)
    page.get_by_label("Search").fill("Willow Lodge")
    page.get_by_label("Search").press("Enter")
    page.wait_for_url(re.compile(r".*q=Willow\+Lodge.*"))
    refs = page.locator("#queue-rows tr[data-reference]")
    assert refs.count() == 1 and refs.first.get_attribute("data-reference") == lodge
    assert "matching this filter" in page.locator("#queue-count").inner_text()


def test_a_threaded_email_reply(
    runtime: Runtime, live_url: str, page, seed, advocate_account: str, relay: RecordingRelay
) -> None:
    runtime.settings = runtime.settings.with_(
        smtp_relay_url=relay.url, email_from="Northgate Advocacy <referrals@advocacy.example.org>"
    )
    reference = seed(
        "Please help my aunt, she is on a ward and nobody listens to her",
        channel="email",
        sender="niece@example.org",
        meta={
            "message_id": "m2@example.org",
            "references": ["m1@example.org"],
            "subject": "Help for my aunt",
        },
    )
    log_in(page, live_url, advocate_account)
    page.goto(f"{live_url}/referrals/{reference}")
    page.get_by_label("Or write your own").fill("We will call you on Monday morning.")
    page.get_by_role("button", name="Preview reply").click()
    assert "Re: Help for my aunt" in page.locator(".preview").inner_text()
    before = len(relay.received)
    page.get_by_role("button", name="Send this reply").click()
    assert page.locator("p.flash").inner_text() == "Reply sent."
    [mail] = relay.received[before:]
    message = mail.message
    assert mail.rcpt_tos == ["niece@example.org"]
    assert message["Subject"] == f"Re: Help for my aunt [{reference}]"
    assert message["In-Reply-To"] == "<m2@example.org>"
    assert message["References"] == "<m1@example.org> <m2@example.org>"
    assert message["Date"] and message["Message-ID"]
    assert "Northgate Advocacy" in message["From"]
    assert "We will call you on Monday morning." in message.get_body().get_content()
    thread = page.locator("ol.thread").inner_text()
    assert "We will call you on Monday morning." in thread and "quoted-printable" not in thread


def test_keyboard_navigation_and_shortcuts(
    live_url: str, page, seed, advocate_account: str
) -> None:
    emergency = seed(EMERGENCY, sender="+447700900151")
    seed("I need help with a complaint about my GP surgery", sender="+447700900152")
    log_in(page, live_url, advocate_account)
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#shortcuts").is_visible()
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.textContent") == emergency
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_url}/referrals/{emergency}")
    page.keyboard.press("c")
    page.wait_for_load_state()
    assert page.locator("#claimed-by").inner_text() == advocate_account
    page.keyboard.press("g")
    page.keyboard.press("q")
    page.wait_for_url(live_url + "/")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"


def test_phone_layout(
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
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(output_dir / "dashboard-queue-phone.png"), full_page=False)
        keep(output_dir, "dashboard-queue-phone.png")
        page.goto(f"{live_url}/referrals/{emergency}")
        claim = page.get_by_role("button", name="Claim")
        box = claim.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 844, "Claim must be at hand"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_timeout(300)
        assert page.evaluate("window.scrollY") > 1000, "the page did scroll"
        box = claim.bounding_box()
        assert box is not None and 0 <= box["y"] <= 844, "the action bar stays on screen"
    finally:
        context.close()


def test_no_serious_accessibility_violations_on_any_page(
    runtime: Runtime, live_url: str, page, seed, output_dir: Path
) -> None:
    admin = "admin@example.org"
    add_user(runtime.store, admin, PASSWORD, "admin")
    add_user(runtime.store, "advocate@example.org", PASSWORD, "advocate")
    reference = seed(EMERGENCY, sender="+447700900161")
    triage.assign(runtime, runtime.store.get_referral(reference), "someone", admin)
    page.goto(live_url + "/login")
    problems = {"/login": axe_violations(page)}
    log_in(page, live_url, admin)
    for path in (
        "/",
        "/?q=tablets&urgency=emergency",
        f"/referrals/{reference}",
        "/notices",
        "/admin/users",
        "/audit",
    ):
        page.goto(live_url + path)
        problems[path] = axe_violations(page)
    page.goto(f"{live_url}/referrals/{reference}")
    page.get_by_role("button", name="Preview reply").click()
    problems["reply preview"] = axe_violations(page)
    page.goto(live_url + "/")
    page.keyboard.press("?")
    problems["shortcuts help"] = axe_violations(page)
    assert {k: v for k, v in problems.items() if v} == {}
