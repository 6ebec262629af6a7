"""The webhook forwarder against a real HTTP case system: signature, retries, failure, replay."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import jsonschema
import pytest
from rq import Queue
from rq.registry import FailedJobRegistry

from intake import cli, forwarding
from intake.forwarding import payload
from intake.queue import queue_name
from intake.runtime import Runtime
from intake.web.app import create_app
from tests.conftest import API_TOKEN
from tests.forwarding.case_system import CaseSystem
from tests.forwarding.conftest import add_message, add_referral, run_due, scheduled, work
from tests.support.servers import serve


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], case_system: CaseSystem) -> Runtime:
    return make_runtime(case_system=("store", "webhook"), case_webhook_url=case_system.url + "/in")


def outcomes(rt: Runtime, referral_id: int) -> list[tuple[str, int | None]]:
    return [(a["outcome"], a["status_code"]) for a in forwarding.attempts(rt.store, referral_id)]


def failed_registry(rt: Runtime, priority: str = "high") -> list[str]:
    queue = Queue(queue_name(rt.settings, priority), connection=rt.redis)
    return FailedJobRegistry(queue=queue).get_job_ids()


def test_delivers_signed_json_matching_the_schema(rt: Runtime, case_system: CaseSystem) -> None:
    referral = add_referral(rt)
    forwarding.schedule(rt, referral)
    assert rt.store.get_referral(referral.reference).forward_status == "queued"
    work(rt)

    [request] = case_system.requests
    assert request.signature_ok
    assert request.headers["Idempotency-Key"] == referral.reference
    assert request.headers["Intake-Event"] == "referral.created"
    body = request.json()
    jsonschema.validate(body, payload.schema())
    assert body["type"] == "referral.created"
    assert body["referral"]["reference"] == referral.reference
    assert body["referral"]["urgency"] == "urgent"
    assert body["referral"]["safeguarding"] == ["financial"]
    assert body["referral"]["details"]["name"] == "Margaret Hughes"
    assert "confidence" not in body["referral"]["details"]
    assert [m["body"] for m in body["referral"]["messages"]] == [referral.raw_text]

    assert rt.store.get_referral(referral.reference).forward_status == "delivered"
    [attempt] = forwarding.attempts(rt.store, referral.id)
    assert attempt["target"] == "webhook"
    assert attempt["destination"] == case_system.url + "/in"
    assert attempt["status_code"] == 200
    assert attempt["outcome"] == "delivered"
    assert attempt["latency_ms"] is not None and attempt["latency_ms"] >= 0
    assert attempt["at"]


def test_a_wrong_secret_is_refused_by_the_receiver(
    make_runtime: Callable[..., Runtime], case_system: CaseSystem
) -> None:
    rt = make_runtime(
        case_system=("webhook",),
        case_webhook_url=case_system.url,
        case_webhook_secret="not-the-shared-secret",
    )
    referral = add_referral(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    assert not case_system.requests[0].signature_ok
    assert outcomes(rt, referral.id) == [("rejected", 401)]


def test_scheduling_the_same_event_twice_queues_one_job(rt: Runtime) -> None:
    referral = add_referral(rt, urgency="routine", safeguarding=())
    forwarding.schedule(rt, referral)
    forwarding.schedule(rt, referral)
    assert Queue(queue_name(rt.settings, "default"), connection=rt.redis).count == 1
    assert Queue(queue_name(rt.settings, "high"), connection=rt.redis).count == 0
    assert len(rt.store.forwards.events_for(referral.id)) == 1


def test_urgent_referrals_go_on_the_high_queue(rt: Runtime) -> None:
    forwarding.schedule(rt, add_referral(rt, urgency="emergency"))
    assert Queue(queue_name(rt.settings, "high"), connection=rt.redis).count == 1


def test_server_errors_are_retried_with_exponential_backoff(
    rt: Runtime, case_system: CaseSystem
) -> None:
    case_system.fail_first(2, status=503)
    referral = add_referral(rt)
    forwarding.schedule(rt, referral)

    work(rt)
    [(job_id, wait)] = scheduled(rt).items()
    assert 25 <= wait <= 30  # first pause: FORWARD_BACKOFF
    assert rt.store.get_referral(referral.reference).forward_status == "retrying"
    run_due(rt)
    work(rt)
    assert 55 <= scheduled(rt)[job_id] <= 60  # doubled
    run_due(rt)
    work(rt)

    assert scheduled(rt) == {}
    assert outcomes(rt, referral.id) == [("retry", 503), ("retry", 503), ("delivered", 200)]
    assert [a["attempt"] for a in forwarding.attempts(rt.store, referral.id)] == [1, 2, 3]
    keys = {r.headers["Idempotency-Key"] for r in case_system.requests}
    assert keys == {referral.reference}
    assert len({r.json()["id"] for r in case_system.requests}) == 1
    assert rt.store.get_referral(referral.reference).forward_status == "delivered"


def test_429_and_a_timeout_are_retried(rt: Runtime, case_system: CaseSystem) -> None:
    case_system.hold_seconds = 5
    case_system.answer_next(429, "timeout")
    referral = add_referral(rt)
    forwarding.schedule(rt, referral)
    for _ in range(3):
        work(rt)
        run_due(rt)
    attempts = forwarding.attempts(rt.store, referral.id)
    assert [(a["outcome"], a["status_code"]) for a in attempts] == [
        ("retry", 429),
        ("retry", None),
        ("delivered", 200),
    ]
    assert "timed out" in attempts[1]["error"]


def test_a_client_error_is_rejected_without_retry(rt: Runtime, case_system: CaseSystem) -> None:
    case_system.answer_next(422)
    referral = add_referral(rt)
    forwarding.schedule(rt, referral)
    work(rt)

    assert scheduled(rt) == {}
    assert len(case_system.requests) == 1
    assert outcomes(rt, referral.id) == [("rejected", 422)]
    assert rt.store.get_referral(referral.reference).forward_status == "forward_failed"
    [item] = forwarding.failed(rt.store)
    assert (item["reference"], item["status"], item["status_code"]) == (
        referral.reference,
        "rejected",
        422,
    )
    assert item["job_id"] in failed_registry(rt)


def test_final_failure_is_listed_and_replay_resends(
    rt: Runtime, case_system: CaseSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_system.fail_first(4, status=500)
    referral = add_referral(rt)
    forwarding.schedule(rt, referral)
    for _ in range(4):
        work(rt)
        run_due(rt)

    assert len(case_system.requests) == 4  # FORWARD_ATTEMPTS
    assert [o for o, _ in outcomes(rt, referral.id)] == ["retry", "retry", "retry", "failed"]
    assert rt.store.get_referral(referral.reference).forward_status == "forward_failed"
    job_id = forwarding.failed(rt.store)[0]["job_id"]
    assert job_id in failed_registry(rt)
    audit = [a["action"] for a in rt.store.audit_for(referral.id)]
    assert "referral.forward_failed" in audit

    with serve(create_app(rt)) as url:
        refused = httpx.get(url + "/api/failed")
        listed = httpx.get(url + "/api/failed", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert refused.status_code == 401
    [item] = listed.json()["failed"]
    assert item["reference"] == referral.reference
    assert item["status"] == "failed"
    assert item["attempts"] == 4
    assert item["status_code"] == 500
    assert item["in_failed_registry"] is True

    # `intake replay REFERENCE`, configured from the environment like the real command.
    settings = rt.settings
    env = {
        "REDIS_URL": settings.redis_url or "",
        "DATABASE_URL": settings.database_url or "",
        "DATA_DIR": str(settings.data_dir),
        "INTAKE_QUEUE_PREFIX": settings.queue_prefix,
        "CASE_SYSTEM": "store,webhook",
        "CASE_WEBHOOK_URL": settings.case_webhook_url,
        "CASE_WEBHOOK_SECRET": settings.case_webhook_secret,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["replay", referral.reference.lower()]) == 0
    assert job_id not in failed_registry(rt)
    work(rt)

    assert rt.store.get_referral(referral.reference).forward_status == "delivered"
    assert outcomes(rt, referral.id)[-1] == ("delivered", 200)
    assert len(forwarding.attempts(rt.store, referral.id)) == 5
    assert forwarding.failed(rt.store) == []
    assert "referral.forward_replayed" in [a["action"] for a in rt.store.audit_for(referral.id)]


def test_replay_all_failed(
    rt: Runtime,
    case_system: CaseSystem,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case_system.answer_next(410, 410)
    first = add_referral(rt, provider_id="SM" + "1" * 32)
    second = add_referral(rt, provider_id="SM" + "2" * 32, urgency="routine")
    forwarding.schedule(rt, first)
    forwarding.schedule(rt, second)
    work(rt)
    assert {i["reference"] for i in forwarding.failed(rt.store)} == {
        first.reference,
        second.reference,
    }
    monkeypatch.setenv("REDIS_URL", rt.settings.redis_url or "")
    monkeypatch.setenv("DATABASE_URL", rt.settings.database_url or "")
    # the same DATA_DIR as the service: the encryption keys it made are there
    monkeypatch.setenv("DATA_DIR", str(rt.settings.data_dir))
    monkeypatch.setenv("INTAKE_QUEUE_PREFIX", rt.settings.queue_prefix)
    assert cli.main(["replay", "--all-failed"]) == 0
    assert "queued 2 failed referral(s)" in capsys.readouterr().out
    work(rt)
    assert forwarding.failed(rt.store) == []
    assert cli.main(["replay", "NOSUCHREF"]) == 1


def test_an_update_goes_to_the_same_case(rt: Runtime, case_system: CaseSystem) -> None:
    referral = add_referral(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    add_message(rt, referral)
    forwarding.schedule(rt, referral, "updated")
    forwarding.schedule(rt, referral, "updated")  # the same change twice: one event
    work(rt)

    created, updated = case_system.requests
    assert len(case_system.requests) == 2
    update = updated.json()
    jsonschema.validate(update, payload.schema())
    assert update["type"] == "referral.updated"
    assert update["referral"]["reference"] == referral.reference
    assert update["sequence"] > created.json()["sequence"]
    assert len(update["referral"]["messages"]) == 2
    assert updated.headers["Idempotency-Key"] == f"{referral.reference}:{update['id']}"
    assert updated.headers["Intake-Event"] == "referral.updated"


def test_a_retry_skips_targets_that_already_took_the_event(
    make_runtime: Callable[..., Runtime], case_system: CaseSystem
) -> None:
    from tests.forwarding import case_system as standin

    fhir = standin.start()
    try:
        rt = make_runtime(
            case_system=("webhook", "fhir"),
            case_webhook_url=case_system.url,
            fhir_base_url=fhir.url + "/fhir",
        )
        fhir.fail_first(1, status=502)
        referral = add_referral(rt)
        forwarding.schedule(rt, referral)
        work(rt)
        run_due(rt)
        work(rt)
    finally:
        fhir.close()
    assert len(case_system.requests) == 1
    assert len(fhir.requests) == 2
    assert [(a["target"], a["outcome"]) for a in forwarding.attempts(rt.store, referral.id)] == [
        ("webhook", "delivered"),
        ("fhir", "retry"),
        ("fhir", "delivered"),
    ]
    assert rt.store.get_referral(referral.reference).forward_status == "delivered"


def test_a_refusal_is_final_in_a_forking_worker_too(rt: Runtime, case_system: CaseSystem) -> None:
    """The production worker forks per job; the refusal must still skip RQ's retries."""
    from worker import build_worker

    case_system.answer_next(400)
    referral = add_referral(rt)
    forwarding.schedule(rt, referral)
    build_worker(rt, simple=False).work(burst=True)
    assert scheduled(rt) == {}
    assert outcomes(rt, referral.id) == [("rejected", 400)]
    assert forwarding.failed(rt.store)[0]["job_id"] in failed_registry(rt)


def test_the_eligibility_card_goes_with_its_evidence_precheck_and_deadline(
    rt: Runtime, case_system: CaseSystem
) -> None:
    from intake.extraction import extract
    from intake.pipeline import build_referral

    text = "The police have my brother on a section 136 since last night, can someone help"
    extracted = extract(text, "sms", received_at="2026-03-02T09:15:00+00:00").to_dict()
    referral = add_referral(rt, text=text, fields=extracted)
    forwarding.schedule(rt, referral)
    work(rt)
    [request] = case_system.requests
    body = request.json()
    jsonschema.validate(body, payload.schema())
    sent = body["referral"]
    assert sent["details"]["eligibility"] == {"mha_section": "136", "detained_on": "2026-03-01"}
    assert "evidence" not in sent["details"] and "confidence" not in sent["details"]
    assert sent["eligibility_evidence"]["mha_section"]["text"] == "section 136"
    assert sent["eligibility_evidence"]["detained_on"]["text"] == "last night"
    assert 0 < sent["eligibility_evidence"]["mha_section"]["confidence"] <= 1
    [finding] = sent["eligibility_precheck"]
    assert finding["id"] == "imha_short_term_hold" and "s130C" in finding["source"]
    # a deadline on the stored screening is sent as the case system's to order by
    from datetime import UTC, datetime

    from intake.models import InboundMessage

    imca = (
        "IMCA needed: he lacks capacity to consent to an operation; the best interests meeting "
        "is on 4 March 2026"
    )
    message = InboundMessage(
        "sms",
        "SM" + "b" * 32,
        "+447700900119",
        "+447700900001",
        imca,
        datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    built = build_referral(message)
    assert built.screening["deadline"]["text"] == "IMCA decision due Wed 4 Mar"
    event_referral = add_referral(rt, text=imca, provider_id="SM" + "b" * 32, fields=built.fields)
    rt.store.update_referral(event_referral.id, screening=built.screening)
    forwarding.schedule(rt, rt.store.get_referral(event_referral.reference))
    work(rt)
    sent = case_system.requests[-1].json()
    jsonschema.validate(sent, payload.schema())
    assert sent["referral"]["deadline"]["text"] == "IMCA decision due Wed 4 Mar"
    assert sent["referral"]["deadline"]["kind"] == "decision"
