"""Possible duplicates on the referral page: a person confirms (merge) or rejects the link."""

from __future__ import annotations

import httpx

from intake.runtime import Runtime
from tests.web.dashboard.conftest import Seed, post_action


def linked_pair(runtime: Runtime, seed: Seed) -> tuple[str, str, dict[str, object]]:
    first = seed(
        "My name is Margaret Hill, I live at LS6 2AB and I need help with a care assessment",
        sender="+447700900555",
    )
    second = seed(
        "I would like to refer Margaret Hill (postcode LS6 2AB) for Care Act advocacy. "
        "She has a care and support assessment next month.",
        sender="+447700900666",
    )
    first_id = runtime.store.get_referral(first).id  # type: ignore[union-attr]
    [link] = runtime.store.links.touching(first_id or 0)
    assert link["status"] == "suggested"
    return first, second, link


def test_the_page_offers_the_link_and_confirming_merges(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed: Seed
) -> None:
    first, second, link = linked_pair(runtime, seed)
    page = advocate.get(f"{live_url}/referrals/{second}").text
    assert "Possibly the same person" in page
    assert f'href="/referrals/{first}"' in page

    response = post_action(
        advocate, live_url, second, "link", link=str(link["id"]), decision="confirm"
    )
    assert response.status_code == 303
    kept = runtime.store.get_referral(first)
    closed = runtime.store.get_referral(second)
    assert kept is not None and closed is not None
    assert closed.status == "closed"
    assert len(runtime.store.messages_for(kept.id or 0)) == 2
    actions = [e["action"] for e in runtime.store.audit_for()]
    assert "referral.viewed" in actions
    assert any(a.startswith("referral.link") or a.startswith("referral.merge") for a in actions)


def test_rejecting_keeps_both_and_a_foreign_link_is_refused(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed: Seed
) -> None:
    first, second, link = linked_pair(runtime, seed)
    other = seed("what does an advocate do?", sender="+447700900777")
    refused = post_action(
        advocate, live_url, other, "link", link=str(link["id"]), decision="confirm"
    )
    assert refused.status_code == 404
    response = post_action(
        advocate, live_url, first, "link", link=str(link["id"]), decision="reject"
    )
    assert response.status_code == 303
    assert [r["status"] for r in runtime.store.links.touching(link["referral_id"])] == [
        "rejected"
    ]
    assert runtime.store.get_referral(second).status == "open"  # type: ignore[union-attr]
    page = advocate.get(f"{live_url}/referrals/{first}").text
    assert "Same person: merge" not in page
