"""The duty desk over real HTTP: working order, counts, search, corrections and their export,
assignment with notices, bulk actions, saved filters, the live state, and accounts."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from intake import cli, pipeline, triage
from intake.models import InboundMessage, utcnow
from intake.runtime import Runtime
from intake.users import add_user, is_locked
from tests.web.dashboard.conftest import (
    ADVOCATE,
    MANAGER,
    PASSWORD,
    csrf_from,
    log_in,
    post_action,
)

EMERGENCY = "ive taken all my tablets i cant do this anymore"


def references_in(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-reference="([^"]+)"', html)


def test_an_unclaimed_overdue_emergency_is_above_one_being_worked(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    now = utcnow()
    claimed = seed(EMERGENCY, received_at=now - timedelta(hours=2), sender="+447700900401")
    # within the SMS conversation window, so a follow-up joins it
    triaged = seed(EMERGENCY, received_at=now - timedelta(minutes=3), sender="+447700900402")
    waiting = seed(EMERGENCY, received_at=now - timedelta(minutes=40), sender="+447700900403")
    fresh = seed(EMERGENCY, received_at=now - timedelta(minutes=1), sender="+447700900404")
    post_action(advocate, live_url, claimed, "claim")
    post_action(advocate, live_url, triaged, "triaged")
    order = references_in(advocate.get(live_url + "/").text)
    assert order[:4] == [waiting, fresh, claimed, triaged]

    # a follow-up on the triaged emergency brings it back up, marked
    referral = runtime.store.get_referral(triaged)
    message = InboundMessage(
        "sms", "SMfollowup1", "+447700900402", "+447700900001", "still here, please", utcnow()
    )
    pipeline.process(runtime, runtime.channels.get("sms"), message)
    assert runtime.store.get_referral(triaged).new_message_at is not None
    html = advocate.get(live_url + "/").text
    assert references_in(html)[:4] == [waiting, triaged, fresh, claimed]
    assert "New message since triage" in html
    assert referral is not None


def test_counts_and_paging_never_hide_a_referral(
    live_url: str, advocate: httpx.Client, seed
) -> None:
    for n in range(3):
        seed(EMERGENCY, sender=f"+44770090050{n}")
    seed("Hello, I would like help with a complaint about my GP", sender="+447700900509")
    html = advocate.get(live_url + "/?urgency=emergency").text
    assert "3 open or triaged matching this filter; 3 emergencies (3 need action)." in html
    html = advocate.get(live_url + "/").text
    assert re.search(r"4 open or triaged; 3 emergencies \(3 need action\), 1 routine", html)


def test_search_by_message_text_is_audited(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    lodge = seed("My mum is at Willow Lodge and they are moving her", sender="+447700900601")
    seed("I need help with a housing complaint", sender="+447700900602")
    html = advocate.get(live_url + "/", params={"q": "Willow Lodge"}).text
    assert references_in(html) == [lodge]
    entries = [e for e in runtime.store.audit_for() if e["action"] == "referrals.searched"]
    assert entries[-1]["actor"] == ADVOCATE
    # the words typed are not kept in the audit: their blind-index terms are, which a DPO can
    # match by hashing a person's details with the same key
    detail = entries[-1]["detail"]
    assert detail == {"terms": runtime.store.search_digest("Willow Lodge"), "found": 1}
    assert len(detail["terms"]) == 2 and "willow" not in detail["terms"]
    everything = json.dumps([e["detail"] for e in runtime.store.audit_for()]).lower()
    assert "willow" not in everything


def test_correcting_categories_and_urgency_exports_labels_for_retraining(
    runtime: Runtime,
    live_url: str,
    advocate: httpx.Client,
    seed,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = seed("My neighbour keeps taking my dads pension money", sender="+447700900701")
    response = post_action(
        advocate,
        live_url,
        reference,
        "categories",
        category="neglect",
        reason="the neighbour takes his money",
    )
    assert response.status_code == 303
    screened = runtime.store.get_referral(reference).urgency
    decided = "routine" if screened != "routine" else "urgent"
    post_action(advocate, live_url, reference, "urgency", urgency=decided, reason="he is scared")
    referral = runtime.store.get_referral(reference)
    assert referral.safeguarding == ["neglect"]
    actions = [e["action"] for e in runtime.store.audit_for(referral.id)]
    assert "referral.categories_corrected" in actions

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", runtime.settings.effective_database_url)
    out = tmp_path / "corrections.jsonl"
    assert cli.main(["export", "corrections", "--out", str(out)]) == 0
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    shape = json.loads(
        (Path(__file__).resolve().parents[2] / "data" / "screening_eval.jsonl")
        .read_text()
        .splitlines()[0]
    )
    assert list(line) == list(shape)
    assert line["text"] == "My neighbour keeps taking my dads pension money"
    assert (line["channel"], line["urgency"], line["safeguarding"]) == ("sms", decided, ["neglect"])
    assert "the neighbour takes his money" in line["note"]

    with pytest.raises(triage.ActionRefused):
        triage.correct_categories(runtime, referral, ADVOCATE, ["no_such_kind"], "why")
    # erasure reaches the corrections (one table keyed by referral)
    assert runtime.store.corrections.erase(referral.id) == 2
    assert cli.main(["export", "corrections", "--out", str(out)]) == 0
    assert out.read_text() == ""


def test_assigning_to_a_colleague_leaves_notices(
    runtime: Runtime, live_url: str, advocate: httpx.Client, manager: httpx.Client, seed
) -> None:
    colleague = "colleague@example.org"
    add_user(runtime.store, colleague, PASSWORD, "advocate")
    reference = seed(EMERGENCY, sender="+447700900801")
    post_action(advocate, live_url, reference, "claim")
    post_action(manager, live_url, reference, "assign", to=colleague)
    work = runtime.store.work.get(runtime.store.get_referral(reference).id)
    assert work["claimed_by"] == colleague
    [to_advocate] = runtime.store.desk.notices(ADVOCATE)
    assert f"reassigned {reference} from you to {colleague}" in to_advocate["text"]
    [to_colleague] = runtime.store.desk.notices(colleague)
    assert f"assigned {reference} to you" in to_colleague["text"]
    state = advocate.get(live_url + "/queue/state").json()
    assert state["notices"] == 1
    page = advocate.get(live_url + "/notices").text
    assert reference in page
    assert advocate.get(live_url + "/queue/state").json()["notices"] == 0
    refused = post_action(manager, live_url, reference, "assign", to="nobody@example.org")
    assert refused.status_code == 400


def test_bulk_close_and_saved_filters(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    a = seed("please help with a complaint about a hospital", sender="+447700900901")
    b = seed("please help with a complaint about a care home", sender="+447700900902")
    token = csrf_from(advocate.get(live_url + "/").text)
    response = advocate.post(
        live_url + "/queue/bulk",
        data={
            "csrf_token": token,
            "ref": [a, b],
            "action": "close",
            "outcome": "Signposted to another service",
            "back": "/",
        },
    )
    assert response.status_code == 303
    assert {runtime.store.get_referral(r).status for r in (a, b)} == {"closed"}
    assert "Closed 2 referrals." in advocate.get(live_url + "/").text

    advocate.post(
        live_url + "/filters",
        data={
            "csrf_token": token,
            "name": "Closed complaints",
            "query": "status=closed&q=complaint",
        },
    )
    html = advocate.get(live_url + "/").text
    assert 'href="/?status=closed&amp;q=complaint">Closed complaints</a>' in html
    assert set(references_in(advocate.get(live_url + "/?status=closed&q=complaint").text)) == {a, b}


def test_live_state_counts_emergencies_needing_a_person_without_their_words(
    live_url: str, advocate: httpx.Client, seed
) -> None:
    first = seed(EMERGENCY, sender="+447700901001")
    state = advocate.get(live_url + "/queue/state").json()
    assert [e["reference"] for e in state["emergencies"]] == [first]
    assert "tablets" not in json.dumps(state)
    post_action(advocate, live_url, first, "claim")
    assert advocate.get(live_url + "/queue/state").json()["emergencies"] == []


def test_email_reply_preview_shows_exactly_what_is_sent_and_the_thread_reads_it(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed, relay
) -> None:
    runtime.settings = runtime.settings.with_(
        smtp_relay_url=relay.url,
        email_from="Northgate Advocacy <referrals@advocacy.example.org>",
        org_name="Northgate Advocacy",
    )
    reference = seed(
        "Please can someone help my aunt, she is in hospital and they will not listen",
        channel="email",
        sender="niece@example.org",
        meta={"message_id": "abc@example.org", "subject": "Help for my aunt"},
    )
    page = advocate.get(f"{live_url}/referrals/{reference}").text
    token = csrf_from(page)
    preview = advocate.post(
        f"{live_url}/referrals/{reference}/preview",
        data={"csrf_token": token, "template": "call_back", "text": ""},
    )
    assert preview.status_code == 200
    text = preview.text
    assert "Preview: exactly what will be sent" in text
    assert f"Re: Help for my aunt [{reference}]" in text
    assert "&lt;abc@example.org&gt;" in text  # In-Reply-To
    assert "reply to this email" in text and "text back" not in text
    nonce = re.search(r'name="nonce" value="([^"]+)"', text).group(1)
    before = len(relay.received)
    sent = advocate.post(
        f"{live_url}/referrals/{reference}/reply",
        data={"csrf_token": token, "template": "call_back", "text": "", "nonce": nonce},
    )
    assert sent.status_code == 303
    [mail] = relay.received[before:]
    message = mail.message
    assert message["Subject"] == f"Re: Help for my aunt [{reference}]"
    assert message["In-Reply-To"] == "<abc@example.org>"
    assert message["Date"] and message["Message-ID"]
    page = advocate.get(f"{live_url}/referrals/{reference}").text
    assert "Sent reply by Email" in page
    assert "=\n" not in page and "Content-Transfer-Encoding" not in page  # decoded, not raw MIME

    free = advocate.post(
        f"{live_url}/referrals/{reference}/preview",
        data={"csrf_token": token, "template": "call_back", "text": "We will ring on Monday."},
    )
    assert "We will ring on Monday." in free.text and "Your reference is" in free.text


def test_users_page_lets_a_manager_unlock_an_advocate_but_not_touch_an_admin(
    runtime: Runtime, live_url: str, manager: httpx.Client
) -> None:
    settings = runtime.settings
    add_user(runtime.store, "admin@example.org", PASSWORD, "admin")
    with httpx.Client(timeout=10) as stranger:
        for _ in range(settings.login_max_failures):
            log_in(stranger, live_url, ADVOCATE, "wrong password!!")
    assert is_locked(settings, runtime.store, ADVOCATE)
    page = manager.get(live_url + "/admin/users").text
    assert "Locked out" in page
    token = csrf_from(page)
    manager.post(live_url + "/admin/users/unlock", data={"csrf_token": token, "email": ADVOCATE})
    assert not is_locked(settings, runtime.store, ADVOCATE)
    refused = manager.post(
        live_url + "/admin/users/disable", data={"csrf_token": token, "email": "admin@example.org"}
    )
    assert refused.status_code == 303
    assert runtime.store.users.get("admin@example.org").active
    assert "Not done" in manager.get(live_url + "/admin/users").text
    actions = [(e["actor"], e["action"]) for e in runtime.store.audit_for()]
    assert (MANAGER, "user.unlocked") in actions


def test_disabling_or_resetting_ends_the_session_now(
    runtime: Runtime, live_url: str, advocate: httpx.Client, manager: httpx.Client
) -> None:
    assert advocate.get(live_url + "/").status_code == 200
    token = csrf_from(manager.get(live_url + "/admin/users").text)
    manager.post(
        live_url + "/admin/users/reset-password", data={"csrf_token": token, "email": ADVOCATE}
    )
    after = advocate.get(live_url + "/")  # the same cookie, as a copy of it would be
    assert after.status_code == 303 and after.headers["location"].startswith("/login")
    assert log_in(advocate, live_url, ADVOCATE).status_code == 401  # the old password is gone


def test_user_commands(
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", runtime.settings.effective_database_url)
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough passphrase\n"))
    add = ["user", "add", "Sam@Example.org", "--role", "advocate", "--password-stdin"]
    assert cli.main(add) == 0
    assert cli.main(["user", "set-role", "sam@example.org", "manager"]) == 0
    assert cli.main(["user", "disable", "sam@example.org"]) == 0
    assert cli.main(["user", "list"]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"sam@example.org\s+manager\s+disabled", listed)
    assert cli.main(["user", "enable", "sam@example.org"]) == 0
    assert cli.main(["user", "unlock", "sam@example.org"]) == 0
    assert cli.main(["user", "reset-password", "sam@example.org", "--generate"]) == 0
    new = capsys.readouterr().out.rsplit(": ", 1)[1].strip()
    assert runtime.store.users.get("sam@example.org").active
    from intake.users import authenticate

    assert authenticate(runtime.settings, runtime.store, "sam@example.org", new).ok
    assert cli.main(["user", "disable", "nobody@example.org"]) == 1
    done = [e["action"] for e in runtime.store.audit_for() if e["actor"].startswith("cli:")]
    assert done == [
        "user.added",
        "user.role_changed",
        "user.disabled",
        "user.enabled",
        "user.unlocked",
        "user.password_reset",
    ]
