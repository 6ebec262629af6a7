"""The charitylog forwarder against a stand-in of Dizions' external-referral API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from intake import forwarding
from intake.config import Settings, load_settings
from intake.failures import Rejected
from intake.forwarding import charitylog
from intake.forwarding.base import ForwardEvent
from intake.forwarding.targets import ForwardingMisconfigured, check, configured, problems
from intake.runtime import Runtime
from tests.forwarding.charitylog_standin import KEYS, Charitylog, parse_people
from tests.forwarding.conftest import (
    FIRST_TEXT,
    add_message,
    add_referral,
    run_due,
    scheduled,
    work,
)

ELIGIBILITY = {
    "decision_type": "accommodation",
    "decision_due": "2026-03-06",
    "lacks_capacity": True,
}


@pytest.fixture
def standin() -> Iterator[Charitylog]:
    system = Charitylog()
    yield system
    system.close()


def settings_for(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "case_system": ("store", "charitylog"),
        "charitylog_api_url": url,
        "charitylog_source": KEYS["Source"],
        "charitylog_org": KEYS["Org"],
        "charitylog_user": KEYS["User"],
        "charitylog_org_type_id": "7",
        "charitylog_referrer_org_type_id": "9",
        "charitylog_relationships": ("child=8:5", "*=20:21"),
        **changes,
    }


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], standin: Charitylog) -> Runtime:
    return make_runtime(**settings_for(standin.url))


def outcomes(rt: Runtime, referral_id: int) -> list[tuple[str, int | None]]:
    return [(a["outcome"], a["status_code"]) for a in forwarding.attempts(rt.store, referral_id)]


def third_party(rt: Runtime, **changes: Any) -> Any:
    fields = {
        "referral_for": "other",
        "name": "Mrs Margaret Hughes",
        "dob": "1938-02-03",
        "nhs_number": "943 476 5919",
        "postcode": "LS1 4AP",
        "relationship": "child",
        "referrer": {"name": "Ellen Hughes", "phone": "+447700900118"},
        "advocacy_type": "imca",
        "consent": True,
        "interpreter_language": "Polish",
        "eligibility": ELIGIBILITY,
        **changes,
    }
    return add_referral(rt, fields=fields)


def test_the_person_and_the_referrer_are_staged_as_linked_people(
    rt: Runtime, standin: Charitylog
) -> None:
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    work(rt)

    [request] = standin.requests
    assert (request.method, request.path) == ("PUT", "/v2/external_referral")
    assert {h: request.headers[h] for h in KEYS} == KEYS
    [[person, referrer]] = standin.staged
    assert (person["first_name"], person["surname"], person["org_type_id"]) == (
        "Margaret",
        "Hughes",
        "7",
    )
    assert person["external_id"] == referral.reference
    assert person["nhs_number"] == "9434765919"
    assert person["postcode"] == "LS1 4AP"
    assert (referrer["first_name"], referrer["surname"], referrer["org_type_id"]) == (
        "Ellen",
        "Hughes",
        "9",
    )
    assert referrer["telephone"] == "+447700900118"
    # Person 1 (the referrer) is relationship 8 of person 0; person 0 is relationship 5 of 1.
    assert referrer["relationships"] == {"0": "8"}
    assert person["relationships"] == {"1": "5"}
    description = person["description"]
    for expected in (
        referral.reference,
        "IMCA referral",
        "URGENT",
        "Safeguarding concerns: financial",
        "Polish interpreter",
        "Change of accommodation",
        "Decision or best-interests meeting due: Fri 6 Mar 2026",
        "Date of birth: Thu 3 Feb 1938",
        FIRST_TEXT,
    ):
        assert expected in description
    assert "project" not in person and "source" not in person
    assert outcomes(rt, referral.id) == [("delivered", 200)]
    assert rt.store.get_referral(referral.reference).forward_status == "delivered"


def test_project_and_source_with_roles_when_configured(
    make_runtime: Callable[..., Runtime], standin: Charitylog
) -> None:
    rt = make_runtime(
        **settings_for(
            standin.url,
            charitylog_project="12",
            charitylog_referral_source="3",
            charitylog_subject_role="1",
            charitylog_referrer_role="2",
        )
    )
    referral = third_party(rt, relationship="neighbour")
    forwarding.schedule(rt, referral)
    work(rt)
    [[person, referrer]] = standin.staged
    assert (person["project"], person["source"], person["referral_role"]) == ("12", "3", "1")
    assert (referrer["source"], referrer["referral_role"]) == ("3", "2")
    assert "project" not in referrer
    # "neighbour" is not mapped: the `*` entry links them.
    assert (referrer["relationships"], person["relationships"]) == ({"0": "20"}, {"1": "21"})


def test_a_self_referral_is_one_person_and_a_missing_name_says_so(
    rt: Runtime, standin: Charitylog
) -> None:
    referral = add_referral(
        rt,
        fields={"referral_for": "self", "phone": "+447700900118", "advocacy_type": "imha"},
        safeguarding=(),
    )
    forwarding.schedule(rt, referral)
    work(rt)
    [[person]] = standin.staged
    assert person["first_name"] == "Not known"
    assert person["surname"] == f"Not known ({referral.reference})"
    assert person["telephone"] == "+447700900118"
    assert "relationships" not in person
    assert "IMHA referral" in person["description"]


def test_wrong_keys_are_refused_and_not_retried(
    make_runtime: Callable[..., Runtime], standin: Charitylog
) -> None:
    rt = make_runtime(**settings_for(standin.url, charitylog_user="revoked-key"))
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    assert scheduled(rt) == {}
    assert outcomes(rt, referral.id) == [("rejected", 401)]
    [item] = forwarding.failed(rt.store)
    assert item["reference"] == referral.reference and item["status_code"] == 401
    assert "invalid User key" in item["error"]


def test_a_missing_field_is_a_refusal_with_the_answer_kept(
    make_runtime: Callable[..., Runtime],
) -> None:
    system = Charitylog(required=("project",))  # this provider's system insists on a project
    try:
        rt = make_runtime(**settings_for(system.url))
        referral = third_party(rt)
        forwarding.schedule(rt, referral)
        work(rt)
        assert run_due(rt) == []
    finally:
        system.close()
    assert outcomes(rt, referral.id) == [("rejected", 422)]
    assert "project is required" in forwarding.failed(rt.store)[0]["error"]
    assert rt.store.get_referral(referral.reference).forward_status == "forward_failed"


def test_429_and_server_errors_are_retried_until_staged(rt: Runtime, standin: Charitylog) -> None:
    standin.answer_next(429, 503, 500)
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    for _ in range(4):
        work(rt)
        run_due(rt)
    assert outcomes(rt, referral.id) == [
        ("retry", 429),
        ("retry", 503),
        ("retry", 500),
        ("delivered", 200),
    ]
    assert len(standin.staged) == 1
    assert rt.store.get_referral(referral.reference).forward_status == "delivered"


def test_a_timeout_is_retried(rt: Runtime, standin: Charitylog) -> None:
    standin.answer_next("timeout")
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    run_due(rt)
    work(rt)
    attempts = forwarding.attempts(rt.store, referral.id)
    assert [a["outcome"] for a in attempts] == ["retry", "delivered"]
    assert "timed out" in attempts[0]["error"]


def test_updates_are_not_staged_again(rt: Runtime, standin: Charitylog) -> None:
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    add_message(rt, referral)
    assert forwarding.schedule(rt, referral, "updated") is False
    work(rt)
    assert len(standin.requests) == 1
    assert rt.store.get_referral(referral.reference).forward_status == "delivered"


def event(rt: Runtime, reference: str, kind: str) -> ForwardEvent:
    referral = rt.store.get_referral(reference)
    assert referral is not None and referral.id is not None
    return ForwardEvent(
        kind,
        kind,
        9,
        datetime(2026, 3, 3, tzinfo=UTC),
        referral,
        rt.store.messages_for(referral.id),
    )


def test_erasure_asks_for_the_manual_step(rt: Runtime, standin: Charitylog) -> None:
    referral = third_party(rt)
    with pytest.raises(Rejected, match=f"delete {referral.reference} by hand in Charitylog"):
        charitylog.send(rt.settings, event(rt, referral.reference, "erased"))
    assert standin.requests == []
    delivered = charitylog.send(rt.settings, event(rt, referral.reference, "updated"))
    assert "new referrals only" in delivered.detail and standin.requests == []


def test_the_form_encoding_is_php_brackets() -> None:
    body = charitylog.encode(
        [{"first_name": "Zoë", "relationships": {1: "8"}}, {"first_name": "A&B"}]
    ).decode()
    assert body == (
        "0%5Bfirst_name%5D=Zo%C3%AB&0%5Brelationships%5D%5B1%5D=8&1%5Bfirst_name%5D=A%26B"
    )
    from urllib.parse import parse_qsl

    assert parse_people(parse_qsl(body)) == [
        {"first_name": "Zoë", "relationships": {"1": "8"}},
        {"first_name": "A&B"},
    ]


def test_missing_or_malformed_settings_stop_the_process_with_one_line() -> None:
    env = {"CASE_SYSTEM": "store,charitylog", "CHARITYLOG_API_URL": "https://api.example.org/"}
    settings = load_settings(env, dotenv=False)
    assert settings.charitylog_api_url == "https://api.example.org"
    with pytest.raises(ForwardingMisconfigured) as caught:
        check(settings)
    line = str(caught.value)
    assert "\n" not in line
    assert line == (
        "CASE_SYSTEM names charitylog but CHARITYLOG_SOURCE, CHARITYLOG_ORG, CHARITYLOG_USER, "
        "CHARITYLOG_ORG_TYPE_ID, CHARITYLOG_REFERRER_ORG_TYPE_ID are not set"
    )
    with pytest.raises(ForwardingMisconfigured):
        configured(settings)  # what every job runs too
    full = load_settings(
        {
            **env,
            "CHARITYLOG_SOURCE": "s",
            "CHARITYLOG_ORG": "o",
            "CHARITYLOG_USER": "u",
            "CHARITYLOG_ORG_TYPE_ID": "7",
            "CHARITYLOG_REFERRER_ORG_TYPE_ID": "9",
            "CHARITYLOG_RELATIONSHIPS": "child=8:5, social worker = 20 : 21",
        },
        dotenv=False,
    )
    assert problems(full) == []
    assert charitylog.relationships(full)["social worker"] == ("20", "21")
    assert [f.name for f in configured(full)] == ["store", "charitylog"]
    wrong = full.with_(
        charitylog_referral_source="1",
        charitylog_relationships=("child=eight",),
        charitylog_org_type_id="clients",
    )
    found = problems(wrong)
    assert "CHARITYLOG_ORG_TYPE_ID must be a Charitylog id (digits), not 'clients'" in found
    assert (
        "CHARITYLOG_REFERRAL_SOURCE needs CHARITYLOG_SUBJECT_ROLE and CHARITYLOG_REFERRER_ROLE"
        in found
    )
    assert any("'child=eight' is not word=referrer_id:person_id" in p for p in found)
    assert problems(Settings(case_system=("store",))) == []
