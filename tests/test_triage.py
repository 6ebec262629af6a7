"""`intake.triage`: every advocate action against a real runtime (SQLite, Redis, a worker).

Referrals are seeded through the real pipeline (`intake.pipeline.process`), as an SMS that has
passed its door. Each action must write its change and its audit entry, in one transaction;
the case system hears (an `updated` forward event) about what it can see; a raise to emergency
by hand alerts on-call through an RQ job.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from rq import Queue

import channels
from intake import pipeline, triage
from intake import runtime as runtime_module
from intake.config import Settings
from intake.models import InboundMessage, Referral, utcnow
from intake.queue import ALERT_EMERGENCY, queue_name, queues
from intake.runtime import Runtime
from intake.web.dashboard import present
from tests.channels.sms.support import age_conversations
from tests.forwarding import case_system as case_system_module
from tests.forwarding.case_system import CaseSystem
from tests.support.twilio_standin import TwilioStandIn
from worker import build_worker

ADVOCATE = "advocate@example.org"
ONCALL_SMS = "+447700900999"
WEBHOOK_SECRET = "whsec-test-0123456789"
SENDER = "+447700900123"
ROUTINE = (
    "Could you tell me what an advocate does? I have a care assessment next month about my "
    "support at home."
)
EMERGENCY = "I have taken 30 paracetamol and want to die tonight"
OUTCOME = triage.OUTCOMES[0]

Seed = Callable[..., Referral]


def make_seed(rt: Runtime) -> Seed:
    def seed(
        body: str = ROUTINE, *, sender: str = SENDER, received_at: datetime | None = None
    ) -> Referral:
        message = InboundMessage(
            channel="sms",
            provider_id="SM" + secrets.token_hex(16),
            sender=sender,
            recipient="+447700900001",
            body=body,
            received_at=received_at or utcnow(),
        )
        reference = pipeline.process(rt, rt.channels.get("sms"), message).reference
        assert reference is not None
        found = rt.store.get_referral(reference)
        assert found is not None
        return found

    return seed


@pytest.fixture
def seed(runtime: Runtime) -> Seed:
    return make_seed(runtime)


def fresh(rt: Runtime, referral: Referral) -> Referral:
    found = rt.store.get_referral_by_id(referral.id or 0)
    assert found is not None
    return found


def audit(rt: Runtime, referral: Referral, action: str | None = None) -> list[dict[str, Any]]:
    return [
        a
        for a in rt.store.audit_for(referral.id)
        if action is None or a["action"] == action
    ]


def work(rt: Runtime) -> None:
    build_worker(rt, simple=True).work(burst=True)


def queued_jobs(rt: Runtime) -> list[str]:
    """The function names of every job waiting on intake's queues."""
    return [job.func_name for q in queues(rt.settings, rt.redis) for job in q.get_jobs()]


# -- each action writes its change and its audit entry ----------------------------------------


def test_claim_and_unclaim_write_the_claim_and_their_audit_entries(
    runtime: Runtime, seed: Seed
) -> None:
    referral = seed()
    assert triage.claim(runtime, referral, ADVOCATE) == "You have claimed this referral."
    work_row = runtime.store.work.get(referral.id or 0)
    assert work_row["claimed_by"] == ADVOCATE
    assert work_row["claimed_at"] is not None
    [entry] = audit(runtime, referral, "referral.claimed")
    assert entry["actor"] == ADVOCATE

    assert triage.unclaim(runtime, referral, ADVOCATE) == "Claim released."
    work_row = runtime.store.work.get(referral.id or 0)
    assert work_row["claimed_by"] is None
    assert work_row["claimed_at"] is None
    [entry] = audit(runtime, referral, "referral.unclaimed")
    assert entry["actor"] == ADVOCATE


def test_a_note_is_written_with_its_audit_entry(runtime: Runtime, seed: Seed) -> None:
    referral = seed()
    triage.add_note(runtime, referral, ADVOCATE, "  Rang back, left a voicemail.  ")
    [note] = runtime.store.work.notes_for(referral.id or 0)
    assert note["author"] == ADVOCATE
    assert note["body"] == "Rang back, left a voicemail."
    [entry] = audit(runtime, referral, "referral.note_added")
    assert entry["actor"] == ADVOCATE


def test_triage_sets_the_status_clears_the_new_message_marker_and_is_audited(
    runtime: Runtime, seed: Seed
) -> None:
    referral = seed()
    runtime.store.update_referral(referral.id or 0, new_message_at=utcnow())
    triage.mark_triaged(runtime, referral, ADVOCATE)
    after = fresh(runtime, referral)
    assert after.status == "triaged"
    assert after.new_message_at is None
    assert runtime.store.work.get(referral.id or 0)["triaged_by"] == ADVOCATE
    [entry] = audit(runtime, referral, "referral.triaged")
    assert entry["actor"] == ADVOCATE


def test_close_and_reopen_write_the_status_the_outcome_and_their_audit_entries(
    runtime: Runtime, seed: Seed
) -> None:
    referral = seed()
    runtime.store.update_referral(referral.id or 0, new_message_at=utcnow())
    assert triage.close(runtime, referral, ADVOCATE, OUTCOME) == f"Closed: {OUTCOME}."
    closed = fresh(runtime, referral)
    assert closed.status == "closed"
    assert closed.new_message_at is None
    work_row = runtime.store.work.get(referral.id or 0)
    assert (work_row["outcome"], work_row["closed_by"]) == (OUTCOME, ADVOCATE)
    assert work_row["closed_at"] is not None
    [entry] = audit(runtime, referral, "referral.closed")
    assert entry["detail"] == {"outcome": OUTCOME}

    assert triage.reopen(runtime, closed, ADVOCATE, "  She rang again  ") == "Reopened."
    assert fresh(runtime, referral).status == "open"
    work_row = runtime.store.work.get(referral.id or 0)
    assert (work_row["outcome"], work_row["closed_by"], work_row["closed_at"]) == (
        None,
        None,
        None,
    )
    [entry] = audit(runtime, referral, "referral.reopened")
    assert entry["actor"] == ADVOCATE
    assert entry["detail"] == {"reason": "She rang again"}


def test_a_field_edit_writes_the_value_its_history_and_its_audit_entry(
    runtime: Runtime, seed: Seed
) -> None:
    referral = seed()
    shown = present.flat_fields(referral.fields)
    assert "postcode" not in shown
    said = triage.edit_field(
        runtime,
        referral,
        ADVOCATE,
        "postcode",
        " LS1 4AB ",
        shown=shown,
        editable=present.FIELD_ORDER,
    )
    assert said == "Postcode updated."
    after = fresh(runtime, referral)
    assert present.flat_fields(after.fields)["postcode"] == "LS1 4AB"
    [history] = runtime.store.work.field_history(referral.id or 0)
    assert (history["field"], history["old_value"], history["new_value"], history["editor"]) == (
        "postcode",
        None,
        "LS1 4AB",
        ADVOCATE,
    )
    [entry] = audit(runtime, referral, "referral.field_edited")
    assert entry["detail"] == {"field": "postcode", "from": None, "to": "LS1 4AB"}

    # the same value again changes and records nothing
    shown = present.flat_fields(after.fields)
    again = triage.edit_field(runtime, after, ADVOCATE, "postcode", "LS1 4AB", shown=shown)
    assert again == "No change."
    assert len(runtime.store.work.field_history(referral.id or 0)) == 1
    assert len(audit(runtime, referral, "referral.field_edited")) == 1


def test_set_urgency_records_who_decided_clears_the_marker_and_audits_the_reason(
    runtime: Runtime, seed: Seed
) -> None:
    referral = seed()
    assert referral.urgency == "routine"
    assert referral.urgency_decided_by is None
    runtime.store.update_referral(referral.id or 0, new_message_at=utcnow())
    said = triage.set_urgency(runtime, referral, ADVOCATE, "urgent", "  Assessment is tomorrow ")
    assert said == "Urgency changed to urgent."
    after = fresh(runtime, referral)
    assert after.urgency == "urgent"
    assert after.urgency_decided_by == ADVOCATE
    assert after.new_message_at is None
    [entry] = audit(runtime, referral, "referral.urgency_changed")
    assert entry["actor"] == ADVOCATE
    assert entry["detail"] == {
        "from": "routine",
        "to": "urgent",
        "reason": "Assessment is tomorrow",
    }


# -- "in one transaction": a failing audit write undoes the change ----------------------------


def _claimed(rt: Runtime, referral: Referral) -> Referral:
    triage.claim(rt, referral, ADVOCATE)
    return fresh(rt, referral)


def _closed(rt: Runtime, referral: Referral) -> Referral:
    triage.close(rt, referral, ADVOCATE, OUTCOME)
    return fresh(rt, referral)


def _as_is(rt: Runtime, referral: Referral) -> Referral:
    return referral


def _edit(rt: Runtime, referral: Referral) -> str:
    return triage.edit_field(
        rt,
        referral,
        ADVOCATE,
        "postcode",
        "LS1 4AB",
        shown=present.flat_fields(referral.fields),
        editable=present.FIELD_ORDER,
    )


def _state(rt: Runtime, referral: Referral) -> dict[str, Any]:
    """Everything an action may change, as the store holds it."""
    now = fresh(rt, referral)
    rid = referral.id or 0
    return {
        "referral": (
            now.status,
            now.urgency,
            now.urgency_decided_by,
            now.new_message_at,
            now.fields,
        ),
        "work": rt.store.work.get(rid),
        "notes": rt.store.work.notes_for(rid),
        "field_history": rt.store.work.field_history(rid),
        "audit": rt.store.audit_for(rid),
    }


ROLLBACK_CASES: dict[str, tuple[Callable[..., Referral], Callable[..., Any], str]] = {
    "claim": (_as_is, lambda rt, r: triage.claim(rt, r, ADVOCATE), "referral.claimed"),
    "unclaim": (_claimed, lambda rt, r: triage.unclaim(rt, r, ADVOCATE), "referral.unclaimed"),
    "note": (
        _as_is,
        lambda rt, r: triage.add_note(rt, r, ADVOCATE, "called her back"),
        "referral.note_added",
    ),
    "triaged": (_as_is, lambda rt, r: triage.mark_triaged(rt, r, ADVOCATE), "referral.triaged"),
    "close": (_as_is, lambda rt, r: triage.close(rt, r, ADVOCATE, OUTCOME), "referral.closed"),
    "reopen": (
        _closed,
        lambda rt, r: triage.reopen(rt, r, ADVOCATE, "she rang again"),
        "referral.reopened",
    ),
    "edit_field": (_as_is, _edit, "referral.field_edited"),
    "set_urgency": (
        _as_is,
        lambda rt, r: triage.set_urgency(rt, r, ADVOCATE, "urgent", "assessment tomorrow"),
        "referral.urgency_changed",
    ),
}


@pytest.mark.parametrize("name", list(ROLLBACK_CASES))
def test_when_the_audit_write_fails_the_change_is_rolled_back_too(
    runtime: Runtime, seed: Seed, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    prepare, act, action = ROLLBACK_CASES[name]
    referral = seed()
    runtime.store.update_referral(referral.id or 0, new_message_at=utcnow())
    referral = prepare(runtime, referral)
    before = _state(runtime, referral)
    original = runtime.store.audit
    calls: list[tuple[str, bool]] = []

    def audit_then_fail(actor: str, what: str, **kwargs: Any) -> None:
        # the entry is written inside the action's transaction, then the write "fails"
        calls.append((what, runtime.store.db.in_transaction))
        original(actor, what, **kwargs)
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(runtime.store, "audit", audit_then_fail)
    with pytest.raises(RuntimeError, match="audit log is unavailable"):
        act(runtime, referral)
    monkeypatch.undo()

    assert calls == [(action, True)]  # the audit write was made, inside the transaction
    assert _state(runtime, referral) == before  # ... and the change went with it
    assert not audit(runtime, referral, action)

    act(runtime, referral)  # with a working audit log the same action goes through
    assert _state(runtime, referral) != before
    assert len(audit(runtime, referral, action)) == 1


# -- the case system hears about what it can see ---------------------------------------------


@pytest.fixture
def case_system() -> Iterator[CaseSystem]:
    system = case_system_module.start(WEBHOOK_SECRET)
    yield system
    system.close()


@pytest.fixture
def forwarding_runtime(settings: Settings, case_system: CaseSystem) -> Iterator[Runtime]:
    rt = Runtime.build(
        settings.with_(
            case_system=("store", "webhook"),
            case_webhook_url=case_system.url + "/in",
            case_webhook_secret=WEBHOOK_SECRET,
            outbound_timeout=2.0,
        ),
        channels.registry(),
    )
    runtime_module.install(rt)
    yield rt
    runtime_module.install(None)
    rt.close()


def events(rt: Runtime, referral: Referral) -> list[str]:
    return [e["event"] for e in rt.store.forwards.events_for(referral.id or 0)]


UPDATING: dict[str, tuple[Callable[..., Referral], Callable[..., Any]]] = {
    "set_urgency": (
        _as_is,
        lambda rt, r: triage.set_urgency(rt, r, ADVOCATE, "urgent", "assessment tomorrow"),
    ),
    "triaged": (_as_is, lambda rt, r: triage.mark_triaged(rt, r, ADVOCATE)),
    "close": (_as_is, lambda rt, r: triage.close(rt, r, ADVOCATE, OUTCOME)),
    "reopen": (_closed, lambda rt, r: triage.reopen(rt, r, ADVOCATE, "she rang again")),
    "edit_field": (_as_is, _edit),
}


@pytest.mark.parametrize("name", list(UPDATING))
def test_changes_the_case_system_can_see_schedule_an_updated_event(
    forwarding_runtime: Runtime, name: str
) -> None:
    rt = forwarding_runtime
    prepare, act = UPDATING[name]
    referral = prepare(rt, make_seed(rt)())
    before = events(rt, referral)
    assert before[0] == "created"
    act(rt, referral)
    assert events(rt, referral) == [*before, "updated"]


@pytest.mark.parametrize(
    "act",
    [
        pytest.param(lambda rt, r: triage.claim(rt, r, ADVOCATE), id="claim"),
        pytest.param(lambda rt, r: triage.add_note(rt, r, ADVOCATE, "left a message"), id="note"),
    ],
)
def test_claims_and_notes_stay_in_intake(
    forwarding_runtime: Runtime, act: Callable[..., Any]
) -> None:
    rt = forwarding_runtime
    referral = make_seed(rt)()
    before = events(rt, referral)
    assert before == ["created"]
    act(rt, referral)
    assert events(rt, referral) == before


def test_the_case_system_receives_the_update_with_the_advocates_urgency(
    forwarding_runtime: Runtime, case_system: CaseSystem
) -> None:
    rt = forwarding_runtime
    referral = make_seed(rt)()
    triage.set_urgency(rt, referral, ADVOCATE, "urgent", "assessment tomorrow")
    triage.claim(rt, referral, ADVOCATE)
    work(rt)
    # an urgent update goes on the high queue and may overtake `created`: receivers order
    # events by `sequence` (README, forwarding)
    received = sorted(case_system.requests, key=lambda r: r.json()["sequence"])
    kinds = [r.headers["Intake-Event"] for r in received]
    assert kinds == ["referral.created", "referral.updated"]
    assert all(r.signature_ok for r in received)
    assert received[-1].json()["referral"]["urgency"] == "urgent"


# -- a raise to emergency by hand alerts on-call ----------------------------------------------


@pytest.fixture
def oncall(runtime: Runtime) -> Runtime:
    runtime.settings = runtime.settings.with_(oncall_duty_contacts=(ONCALL_SMS,))
    return runtime


def oncall_texts(twilio: TwilioStandIn) -> list[str]:
    return [m.value("Body") for m in twilio.messages if m.value("To") == ONCALL_SMS]


def test_raising_to_emergency_by_hand_queues_the_oncall_alert_without_the_message_text(
    oncall: Runtime, seed: Seed, twilio: TwilioStandIn
) -> None:
    referral = seed(ROUTINE)
    assert referral.urgency == "routine"
    assert oncall_texts(twilio) == []

    said = triage.set_urgency(oncall, referral, ADVOCATE, "emergency", "She says she is unsafe")
    assert said == "Urgency changed to emergency. On-call is being alerted."
    high = Queue(queue_name(oncall.settings, "high"), connection=oncall.redis)
    assert [job.func_name for job in high.get_jobs()] == [ALERT_EMERGENCY]
    assert oncall_texts(twilio) == []  # queued, not sent while the advocate waits

    work(oncall)
    [alert] = oncall_texts(twilio)
    assert referral.reference in alert
    assert "raised to emergency by an advocate" in alert
    for word in ("assessment", "support", "home", "month", "unsafe"):  # neither the message
        assert word not in alert.lower()  # nor the advocate's reason
    [entry] = audit(oncall, referral, "referral.oncall_alerted")
    assert entry["detail"]["occasion"].startswith("raised-")

    work(oncall)  # nothing left to run: one alert per raise
    assert len(oncall_texts(twilio)) == 1


def test_lowering_or_raising_below_emergency_does_not_alert(
    oncall: Runtime, seed: Seed, twilio: TwilioStandIn
) -> None:
    emergency = seed(EMERGENCY)
    assert emergency.urgency == "emergency"
    work(oncall)
    alerted = len(oncall_texts(twilio))  # the alert for the emergency as it came in

    assert triage.set_urgency(oncall, emergency, ADVOCATE, "routine", "spoke to her, safe now") == (
        "Urgency changed to routine."
    )
    again = triage.set_urgency(
        oncall, fresh(oncall, emergency), ADVOCATE, "urgent", "still worried"
    )
    assert again == "Urgency changed to urgent."
    other = seed(ROUTINE, sender="+447700900124")
    triage.set_urgency(oncall, other, ADVOCATE, "urgent", "assessment tomorrow")
    assert ALERT_EMERGENCY not in queued_jobs(oncall)
    work(oncall)
    assert len(oncall_texts(twilio)) == alerted


def test_an_emergency_confirmed_as_an_emergency_does_not_alert_again(
    oncall: Runtime, seed: Seed, twilio: TwilioStandIn
) -> None:
    emergency = seed(EMERGENCY)
    work(oncall)
    alerted = len(oncall_texts(twilio))
    said = triage.set_urgency(oncall, emergency, ADVOCATE, "emergency", "confirmed on the phone")
    assert said == "Urgency changed to emergency."
    assert ALERT_EMERGENCY not in queued_jobs(oncall)
    work(oncall)
    assert len(oncall_texts(twilio)) == alerted


# -- refusals ----------------------------------------------------------------------------------


def test_reopen_refuses_a_referral_that_is_not_closed(runtime: Runtime, seed: Seed) -> None:
    referral = seed()
    with pytest.raises(triage.ActionRefused) as refused:
        triage.reopen(runtime, referral, ADVOCATE, "why not")
    assert refused.value.status == 409
    triage.mark_triaged(runtime, referral, ADVOCATE)
    with pytest.raises(triage.ActionRefused):
        triage.reopen(runtime, fresh(runtime, referral), ADVOCATE, "why not")
    assert not audit(runtime, referral, "referral.reopened")


def test_reopen_refuses_a_referral_merged_into_another(runtime: Runtime, seed: Seed) -> None:
    older = seed(ROUTINE)
    age_conversations(runtime, 120)  # the next text comes after the conversation window
    newer = seed("Hello again, it's about my care assessment next month")
    assert newer.reference != older.reference
    [link] = runtime.store.links.touching(newer.id or 0)
    said = triage.decide_link(runtime, newer, ADVOCATE, link["id"], confirm=True)
    assert said == f"Merged into {older.reference}."
    merged = fresh(runtime, newer)
    assert merged.status == "closed"
    assert merged.fields["merged_into"] == older.reference

    with pytest.raises(triage.ActionRefused) as refused:
        triage.reopen(runtime, merged, ADVOCATE, "she rang again")
    assert refused.value.status == 409
    assert older.reference in str(refused.value)
    assert fresh(runtime, newer).status == "closed"
    assert not audit(runtime, newer, "referral.reopened")


def test_reopen_refuses_an_empty_reason(runtime: Runtime, seed: Seed) -> None:
    closed = _closed(runtime, seed())
    with pytest.raises(triage.ActionRefused):
        triage.reopen(runtime, closed, ADVOCATE, "   ")
    assert fresh(runtime, closed).status == "closed"


@pytest.mark.parametrize(
    "act",
    [
        pytest.param(
            lambda rt, r: triage.set_urgency(rt, r, ADVOCATE, "critical", "very bad"),
            id="unknown-urgency",
        ),
        pytest.param(
            lambda rt, r: triage.set_urgency(rt, r, ADVOCATE, "urgent", "   "), id="empty-reason"
        ),
        pytest.param(
            lambda rt, r: triage.close(rt, r, ADVOCATE, "Sorted it out"), id="unknown-outcome"
        ),
        pytest.param(
            lambda rt, r: triage.edit_field(
                rt,
                r,
                ADVOCATE,
                "favourite_colour",
                "blue",
                shown=present.flat_fields(r.fields),
                editable=present.FIELD_ORDER,
            ),
            id="unknown-field",
        ),
        pytest.param(lambda rt, r: triage.add_note(rt, r, ADVOCATE, "  "), id="empty-note"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    runtime: Runtime, seed: Seed, act: Callable[..., Any]
) -> None:
    referral = seed()
    before = _state(runtime, referral)
    with pytest.raises(triage.ActionRefused) as refused:
        act(runtime, referral)
    assert refused.value.status == 400
    assert str(refused.value)
    assert _state(runtime, referral) == before
