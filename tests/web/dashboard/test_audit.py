"""Managers read and export the audit trail; every change carries who and when."""

from __future__ import annotations

import csv
import io

import httpx

from intake.models import utcnow
from intake.runtime import Runtime
from intake.web.dashboard.audit import to_csv
from tests.web.dashboard.conftest import ADVOCATE, MANAGER, post_action


def test_manager_sees_and_exports_the_trail(
    runtime: Runtime, live_url: str, advocate: httpx.Client, manager: httpx.Client, seed
) -> None:
    reference = seed("Could I have an advocate for my mums care review please")
    other = seed("I need help with a complaint about my GP", sender="+447700900901")
    post_action(advocate, live_url, reference, "claim")
    post_action(advocate, live_url, reference, "note", note="Left a voicemail")

    page = manager.get(live_url + "/audit", params={"reference": reference}).text
    assert "referral.claimed" in page and ADVOCATE in page

    export = manager.get(live_url + "/audit.csv", params={"reference": reference})
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {r["reference"] for r in rows} == {reference}
    done = [(r["actor"], r["action"]) for r in rows]
    assert (ADVOCATE, "referral.claimed") in done
    assert (ADVOCATE, "referral.note_added") in done
    assert ("system", "referral.created") in done
    assert all(r["at"] for r in rows)

    everything = list(csv.DictReader(io.StringIO(manager.get(live_url + "/audit.csv").text)))
    assert other in {r["reference"] for r in everything}
    actions = [e["action"] for e in runtime.store.audit_for()]
    assert "audit.viewed" in actions and "audit.exported" in actions
    exported = [e["actor"] for e in runtime.store.audit_for() if e["action"] == "audit.exported"]
    assert exported == [MANAGER, MANAGER]  # one export per CSV download


def test_manager_sees_the_trail_on_the_referral_page_and_advocate_does_not(
    live_url: str, advocate: httpx.Client, manager: httpx.Client, seed
) -> None:
    reference = seed("Could I have an advocate for my mums care review please")
    assert "Audit trail</h2>" in manager.get(f"{live_url}/referrals/{reference}").text
    assert "Audit trail</h2>" not in advocate.get(f"{live_url}/referrals/{reference}").text


def test_csv_neutralises_spreadsheet_formulas() -> None:
    text = to_csv(
        [{"at": utcnow(), "actor": "=HYPERLINK(1)", "action": "x", "reference": None, "detail": {}}]
    )
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["actor"] == "'=HYPERLINK(1)"
