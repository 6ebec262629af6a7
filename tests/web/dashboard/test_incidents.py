"""Flood incidents on the dashboard: one notice on the queue, a page, and marking it dealt with."""

from __future__ import annotations

from datetime import timedelta

import httpx

from intake.models import utcnow
from intake.runtime import Runtime
from tests.web.dashboard.conftest import csrf_from


def test_an_incident_is_one_notice_with_a_page_until_someone_deals_with_it(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    burst = [
        seed("I have taken all my tablets", channel="email", sender=f"flood{n}@example.net")
        for n in range(3)
    ]
    other = seed("Please help my mum with her care assessment", sender="+447700900321")
    ids = [r.id for r in (runtime.store.get_referral(ref) for ref in burst) if r and r.id]
    incident, _ = runtime.store.incidents.record_burst(
        "email", ids, utcnow(), timedelta(minutes=5)
    )

    queue = advocate.get(live_url + "/").text
    assert queue.count("Possible flood") == 1
    assert "3 email referrals (3 read as emergencies) from 3 senders with no history" in queue
    assert other in queue and all(ref in queue for ref in burst)  # nothing hidden

    page = advocate.get(f"{live_url}/incidents/{incident}")
    assert page.status_code == 200
    assert all(ref in page.text for ref in burst) and other not in page.text
    assert advocate.get(f"{live_url}/incidents/{incident + 99}").status_code == 404

    forged = advocate.post(f"{live_url}/incidents/{incident}/close", data={"csrf_token": "x"})
    assert forged.status_code == 403
    token = csrf_from(page.text)
    done = advocate.post(f"{live_url}/incidents/{incident}/close", data={"csrf_token": token})
    assert done.status_code == 303
    assert "Possible flood" not in advocate.get(live_url + "/").text
    actions = [e["action"] for e in runtime.store.audit_for()]
    assert "incident.viewed" in actions and "incident.closed" in actions
