"""The queue page: order, filters, search, the polling fragment, and who has claimed what."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from intake.models import utcnow
from intake.runtime import Runtime
from tests.web.dashboard.conftest import post_action

EMERGENCY = "ive taken all my tablets i cant do this anymore"
URGENT_SG = (
    "My neighbour is taking all of my dads pension money and he is scared of him, please help"
)
ROUTINE = "Hello, I would like help making a complaint about my mums GP surgery in Leeds"


def references_in(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-reference="([^"]+)"', html)


def test_queue_is_most_urgent_first_then_oldest_first(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    now = utcnow()
    old_routine = seed(ROUTINE, received_at=now - timedelta(hours=5), sender="+447700900201")
    new_routine = seed(
        "Can I get an advocate for my brothers care assessment", sender="+447700900202"
    )
    emergency = seed(EMERGENCY, received_at=now - timedelta(minutes=1), sender="+447700900203")
    old_emergency = seed(
        "I have a rope and I am going to end it tonight",
        received_at=now - timedelta(minutes=30),
        sender="+447700900204",
    )
    urgencies = {r: runtime.store.get_referral(r).urgency for r in (emergency, old_emergency)}
    assert urgencies == {emergency: "emergency", old_emergency: "emergency"}

    html = advocate.get(live_url + "/").text
    order = references_in(html)
    assert order[:2] == [old_emergency, emergency]
    assert order.index(old_routine) < order.index(new_routine)
    # same order the store gives the API
    assert order == [r.reference for r in runtime.store.list_referrals(limit=100)]


def test_row_shows_what_a_duty_advocate_needs(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    reference = seed(URGENT_SG)
    referral = runtime.store.get_referral(reference)
    html = advocate.get(live_url + "/").text
    row = html[html.index(f'data-reference="{reference}"') :].split("</tr>")[0]
    assert "SMS" in row
    assert referral.urgency.capitalize() in row
    for category in referral.safeguarding:
        assert category.replace("_", " ").capitalize() in row
    assert "My neighbour is taking all of my dads pension" in row
    assert "Unclaimed" in row
    assert "ago" in row

    post_action(advocate, live_url, reference, "claim")
    html = advocate.get(live_url + "/").text
    row = html[html.index(f'data-reference="{reference}"') :].split("</tr>")[0]
    assert "advocate@example.org" in row


def test_filters_by_urgency_channel_category_and_status(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    emergency = seed(EMERGENCY, sender="+447700900301")
    financial = seed(URGENT_SG, sender="+447700900302")
    routine = seed(ROUTINE, sender="+447700900303")
    voice = seed(
        "Hi its Sam calling about my aunt, she needs an advocate for her care review",
        channel="voice",
        sender="+447700900304",
    )

    def shown(query: str) -> set[str]:
        return set(references_in(advocate.get(f"{live_url}/?{query}").text))

    assert shown("urgency=emergency") == {emergency}
    assert shown("channel=voice") == {voice}
    assert routine in shown("channel=sms") and voice not in shown("channel=sms")
    categories = runtime.store.get_referral(financial).safeguarding
    assert categories, "the seeded financial abuse message should be screened as safeguarding"
    assert financial in shown(f"category={categories[0]}")
    assert routine not in shown(f"category={categories[0]}")

    post_action(advocate, live_url, routine, "close", outcome="Signposted to another service")
    assert routine not in shown("")
    assert shown("status=closed") == {routine}
    assert routine in shown("status=all")


def test_search_by_reference_name_phone_and_email(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    named = seed(
        "My name is Priya Raman, I need an advocate for a best interests meeting about my "
        "father. You can email me at priya.raman@example.com",
        sender="+447700900401",
    )
    other = seed(ROUTINE, sender="+447700900402")

    def found(term: str) -> set[str]:
        return set(references_in(advocate.get(live_url + "/", params={"q": term}).text))

    assert found(named) == {named}
    assert found(named.lower()) == {named}
    assert found("priya.raman@example.com") == {named}
    assert found("Raman") == {named}
    assert found("07700 900402") == {other}  # typed as a UK number, stored as +44
    assert found("nobody-here") == set()


def test_new_referrals_arrive_in_the_fragment_without_reload(
    live_url: str, advocate: httpx.Client, seed
) -> None:
    first = seed(ROUTINE, sender="+447700900501")
    before = advocate.get(live_url + "/queue/rows", headers={"X-Requested-With": "fetch"})
    assert references_in(before.text) == [first]
    second = seed(EMERGENCY, sender="+447700900502")
    after = advocate.get(live_url + "/queue/rows", headers={"X-Requested-With": "fetch"})
    assert references_in(after.text) == [second, first]
    assert "<html" not in after.text  # a fragment, not a page


def test_queue_views_are_audited(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    seed(ROUTINE)
    advocate.get(live_url + "/", params={"urgency": "routine"})
    [entry] = [e for e in runtime.store.audit_for() if e["action"] == "queue.viewed"][-1:]
    assert entry["actor"] == "advocate@example.org"
    assert entry["detail"]["urgency"] == "routine"


def test_a_statutory_deadline_shows_in_the_row_and_the_card_on_the_page(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    from zoneinfo import ZoneInfo

    reference = seed("My brother was sectioned 11 days ago under section 2 and wants to appeal")
    today = utcnow().astimezone(ZoneInfo("Europe/London")).date()
    last_day = today + timedelta(days=2)  # 14 days beginning with the day of admission
    label = f"Tribunal deadline {last_day:%a} {last_day.day} {last_day:%b}"
    queue = advocate.get(live_url + "/").text
    row = queue[queue.index(f'data-reference="{reference}"') :]
    row = row[: row.index("</tr>")]
    assert label in row and 'class="deadline is-soon"' in row
    page = advocate.get(f"{live_url}/referrals/{reference}").text
    assert "Also urgent because: <strong>" + label[0].lower() + label[1:] in page
    card = page[page.index('id="eligibility"') :]
    assert "Mental Health Act" in card and "Section 2" in card
    assert '<mark class="match">section 2</mark>' in card  # the words it was read from
    assert "MHA 1983 s66" in card
    assert '<mark class="match" title="Detained on">11 days ago</mark>' in page


def test_the_advocate_sees_why_a_referral_may_be_outside_the_criteria(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    reference = seed("the police have my brother on a section 136, can someone help him")
    queue = advocate.get(live_url + "/").text
    row = queue[queue.index(f'data-reference="{reference}"') :]
    assert "Check eligibility" in row[: row.index("</tr>")]
    page = advocate.get(f"{live_url}/referrals/{reference}").text
    assert 'data-rule="imha_short_term_hold"' in page
    assert "Held under section 136: short-term holds do not qualify for an IMHA." in page
