"""A volunteer sees referrals and their screening, and contact details only when assigned."""

from __future__ import annotations

import httpx

from intake.privacy import masking
from intake.runtime import Runtime
from intake.store import Store
from intake.users import add_user
from tests.web.dashboard.conftest import PASSWORD, Seed, csrf_from, log_in

VOLUNTEER = "volunteer@example.org"
BODY = (
    "My mum Margaret Hughes needs help, she is being evicted. Ring me on 07700 900456 or "
    "email ellen.hughes@example.net"
)
CONTACTS = ["07700 900456", "ellen.hughes@example.net", "+447700900123", "Hughes"]


def test_contact_details_are_hidden_until_the_referral_is_assigned(
    live_url: str, accounts: Store, seed: Seed, runtime: Runtime
) -> None:
    reference = seed(BODY, sender="+447700900123")
    add_user(accounts, VOLUNTEER, PASSWORD, "volunteer")
    with httpx.Client(timeout=10) as volunteer:
        assert log_in(volunteer, live_url, VOLUNTEER).status_code == 303
        queue = volunteer.get(live_url + "/")
        assert queue.status_code == 200 and reference in queue.text
        assert [c for c in CONTACTS if c in queue.text] == []
        page = volunteer.get(f"{live_url}/referrals/{reference}")
        assert page.status_code == 200
        assert "being evicted" in page.text  # the referral and its screening
        assert [c for c in CONTACTS if c in page.text] == []
        assert "only on referrals assigned to them" in page.text
        # nor can they act on it, or give it to themselves
        token = csrf_from(page.text)
        claim = volunteer.post(
            f"{live_url}/referrals/{reference}/claim", data={"csrf_token": token}
        )
        assert claim.status_code == 403
        assert volunteer.get(live_url + "/privacy").status_code == 403

        referral = runtime.store.get_referral(reference)
        assert referral is not None and referral.id is not None
        runtime.store.work.set(referral.id, claimed_by=VOLUNTEER)  # an advocate assigns it
        page = volunteer.get(f"{live_url}/referrals/{reference}")
        assert "07700 900456" in page.text and "ellen.hughes@example.net" in page.text


def test_a_volunteer_still_sees_communication_needs_and_the_eligibility_card(
    live_url: str, accounts: Store, seed: Seed
) -> None:
    reference = seed(
        "My brother Tom Reyes is deaf and a BSL user, text only please. He was sectioned under "
        "section 2 and wants an advocate. Ring me on 07700 900456",
        sender="+447700900123",
    )
    add_user(accounts, VOLUNTEER, PASSWORD, "volunteer")
    with httpx.Client(timeout=10) as volunteer:
        assert log_in(volunteer, live_url, VOLUNTEER).status_code == 303
        page = volunteer.get(f"{live_url}/referrals/{reference}")
        assert page.status_code == 200
        assert 'id="communication-needs"' in page.text and "BSL" in page.text
        assert 'id="eligibility"' in page.text
        assert "07700 900456" not in page.text and "Reyes" not in page.text


def test_masking_hides_numbers_addresses_and_surnames() -> None:
    assert masking.text("call 07700 900456 or +44 7700 900457, a@b.org") == (
        "call [hidden] or [hidden], [hidden]"
    )
    fields = {
        "name": "Margaret Hughes",
        "phone": "+447700900456",
        "dob": "1938-02-03",
        "referrer": {"name": "Ellen Hughes", "email": "e@x.org"},
        "advocacy_type": "imca",
        "evidence": {"name": "Margaret Hughes"},
    }
    assert masking.fields(fields) == {
        "name": "Margaret",
        "phone": "[hidden]",
        "dob": "[hidden]",
        "referrer": {"name": "Ellen", "email": "[hidden]"},
        "advocacy_type": "imca",
        "evidence": {},
    }
    assert masking.hides("volunteer", None, "v@x.org")
    assert not masking.hides("volunteer", "V@x.org", "v@x.org")
    assert not masking.hides("advocate", None, "a@x.org")
