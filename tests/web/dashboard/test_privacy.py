"""The dashboard's erasure: a manager asks, a second manager confirms with their password."""

from __future__ import annotations

import httpx

from intake.runtime import Runtime
from intake.store import Store
from intake.users import add_user
from tests.web.dashboard.conftest import MANAGER, PASSWORD, Seed, csrf_from, log_in

SECOND = "second.manager@example.org"
BODY = "I need an advocate, my landlord at Quillwort House is evicting me"


def ask(client: httpx.Client, base: str, **data: str) -> httpx.Response:
    token = csrf_from(client.get(base + "/privacy").text)
    return client.post(
        base + "/privacy/erasures", data={"csrf_token": token, **data}, follow_redirects=True
    )


def decide(client: httpx.Client, base: str, request_id: int, action: str, **data: str) -> str:
    token = csrf_from(client.get(base + "/privacy").text)
    client.post(
        f"{base}/privacy/erasures/{request_id}/{action}", data={"csrf_token": token, **data}
    )
    return client.get(base + "/privacy").text


def test_two_managers_erase_a_person_and_the_one_who_asked_cannot_confirm(
    live_url: str,
    manager: httpx.Client,
    advocate: httpx.Client,
    accounts: Store,
    seed: Seed,
    runtime: Runtime,
) -> None:
    reference = seed(BODY, sender="+447700900123")
    keep = seed("Someone else entirely needs help", sender="+447700900456")
    assert advocate.get(live_url + "/privacy").status_code == 403
    page = manager.get(f"{live_url}/referrals/{reference}").text
    assert f"/privacy?reference={reference}" in page

    said = ask(manager, live_url, kind="reference", value=reference, reason="").text
    assert "give the reason" in said
    said = ask(manager, live_url, kind="reference", value=reference, reason="Art. 17 request").text
    assert "reaches 1 referral" in said and reference in said
    request_id = accounts.privacy.erasure_requests(pending_only=True)[0]["id"]

    # the manager who asked cannot confirm their own request
    page = decide(manager, live_url, request_id, "confirm", password=PASSWORD)
    assert "A second manager must confirm" in page
    add_user(accounts, SECOND, PASSWORD, "manager")
    with httpx.Client(timeout=10) as second:
        assert log_in(second, live_url, SECOND).status_code == 303
        page = decide(second, live_url, request_id, "confirm", password="wrong password!!")
        assert "your password was not right" in page
        stored = runtime.store.get_referral(reference)
        assert stored is not None and "Quillwort" in stored.raw_text  # nothing erased yet
        page = decide(second, live_url, request_id, "confirm", password=PASSWORD)
        assert "Erased: 1 referral(s)" in page
        # the erased referral still opens, with nothing of the person on it
        shown = second.get(f"{live_url}/referrals/{reference}")
        assert shown.status_code == 200 and "Quillwort" not in shown.text
        assert "+447700900123" not in shown.text
    stored = runtime.store.get_referral(reference)
    assert stored is not None and stored.raw_text == "" and stored.sender == ""
    other = runtime.store.get_referral(keep)
    assert other is not None and other.raw_text == "Someone else entirely needs help"
    done = accounts.privacy.erasure_request(request_id)
    assert done is not None and done["status"] == "done" and done["value"] is None
    assert done["decided_by"] == SECOND and done["counts"]["referrals"] == 1
    actions = [(e["actor"], e["action"]) for e in accounts.audit_for()]
    assert (MANAGER, "privacy.erasure_requested") in actions
    assert (SECOND, "reauth.failed") in actions
    assert (MANAGER, "privacy.erased") in actions  # the requester, confirmed_by the second


def test_a_request_can_be_withdrawn_and_bad_input_is_refused(
    live_url: str, manager: httpx.Client, accounts: Store, seed: Seed
) -> None:
    assert (
        "not a phone number" in ask(manager, live_url, kind="phone", value="hello", reason="x").text
    )
    assert (
        "no referral"
        in ask(manager, live_url, kind="reference", value="REF-ZZZZZZ", reason="x").text
    )
    reference = seed("please help", sender="+447700900123")
    ask(manager, live_url, kind="phone", value="07700 900123", reason="asked by phone")
    request_id = accounts.privacy.erasure_requests(pending_only=True)[0]["id"]
    page = decide(manager, live_url, request_id, "withdraw")
    assert "withdrawn: nothing was erased" in page
    stored = accounts.get_referral(reference)
    assert stored is not None and stored.raw_text == "please help"


def test_a_manager_downloads_a_subject_access_export_after_their_password(
    live_url: str, manager: httpx.Client, advocate: httpx.Client, accounts: Store, seed: Seed
) -> None:
    import io
    import json
    import zipfile

    reference = seed(BODY, sender="+447700900123")
    token = csrf_from(manager.get(live_url + "/privacy").text)
    form = {"csrf_token": token, "kind": "phone", "value": "07700 900123"}
    wrong = manager.post(
        live_url + "/privacy/export", data={**form, "password": "not it"}, follow_redirects=True
    )
    assert "your password was not right" in wrong.text
    answer = manager.post(live_url + "/privacy/export", data={**form, "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["cache-control"] == "no-store"
    document = json.loads(zipfile.ZipFile(io.BytesIO(answer.content)).read("subject-access.json"))
    assert [r["reference"] for r in document["referrals"]] == [reference]
    assert document["referrals"][0]["messages"][0]["body"] == BODY
    assert (MANAGER, "privacy.exported") in [
        (e["actor"], e["action"]) for e in accounts.audit_for()
    ]
    advocate_token = csrf_from(advocate.get(live_url + "/").text)
    refused = advocate.post(
        live_url + "/privacy/export",
        data={**form, "csrf_token": advocate_token, "password": PASSWORD},
    )
    assert refused.status_code == 403


def test_a_manager_puts_a_referral_on_legal_hold_and_releases_it(
    live_url: str, manager: httpx.Client, accounts: Store, seed: Seed
) -> None:
    reference = seed("please help", sender="+447700900123")
    page = manager.get(f"{live_url}/referrals/{reference}").text
    token = csrf_from(page)
    said = manager.post(
        live_url + "/privacy/hold",
        data={"csrf_token": token, "reference": reference, "action": "hold", "reason": ""},
        follow_redirects=True,
    ).text
    assert "say why it must be kept" in said
    said = manager.post(
        live_url + "/privacy/hold",
        data={"csrf_token": token, "reference": reference, "action": "hold", "reason": "claim"},
        follow_redirects=True,
    ).text
    assert "is on legal hold" in said and "Release the hold" in said
    referral_id = accounts.privacy.id_for_reference(reference)
    assert referral_id is not None
    assert accounts.privacy.summaries([referral_id])[0]["legal_hold"] is True
    manager.post(
        live_url + "/privacy/hold",
        data={"csrf_token": token, "reference": reference, "action": "release"},
    )
    assert accounts.privacy.summaries([referral_id])[0]["legal_hold"] is False
    actions = [e["action"] for e in accounts.audit_for(referral_id)]
    assert "privacy.hold_placed" in actions and "privacy.hold_released" in actions
