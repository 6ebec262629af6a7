"""The lamplight forwarder against a stand-in of Lamplight's publishing API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from intake import forwarding
from intake.config import load_settings
from intake.failures import Rejected
from intake.forwarding import lamplight
from intake.forwarding.base import ForwardEvent
from intake.forwarding.targets import problems
from intake.models import InboundMessage
from intake.runtime import Runtime
from tests.forwarding.conftest import add_message, add_referral, run_due, scheduled, work
from tests.forwarding.lamplight_standin import CREDENTIALS, Lamplight
from tests.forwarding.standin import Answer, Request


@pytest.fixture
def standin() -> Iterator[Lamplight]:
    system = Lamplight()
    yield system
    system.close()


def settings_for(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "case_system": ("store", "lamplight"),
        "lamplight_api_url": url,
        "lamplight_key": CREDENTIALS["key"],
        "lamplight_lampid": CREDENTIALS["lampid"],
        "lamplight_project": CREDENTIALS["project"],
        "lamplight_workarea_id": "22",
        **changes,
    }


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], standin: Lamplight) -> Runtime:
    return make_runtime(**settings_for(standin.url, lamplight_reference_field="Intake reference"))


def third_party(rt: Runtime, **changes: Any) -> Any:
    fields = {
        "referral_for": "other",
        "name": "Margaret Hughes",
        "phone": "07700 900456",
        "email": "margaret@example.org",
        "postcode": "ls14ap",
        "relationship": "child",
        "referrer": {"name": "Ellen Hughes", "phone": "+447700900118"},
        "advocacy_type": "care_act",
        "eligibility": {"care_act_stage": "needs_assessment"},
        **changes,
    }
    return add_referral(rt, fields=fields)


def outcomes(rt: Runtime, referral_id: int) -> list[tuple[str, int | None]]:
    return [(a["outcome"], a["status_code"]) for a in forwarding.attempts(rt.store, referral_id)]


def test_profiles_are_made_then_the_referral_is_added(rt: Runtime, standin: Lamplight) -> None:
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    work(rt)

    steps = [(r.method, r.path) for r in standin.requests]
    assert steps == [
        ("GET", "/people/some/role/user"),
        ("POST", "/people/add/role/user"),
        ("GET", "/people/some/role/contact"),
        ("POST", "/people/add/role/contact"),
        ("POST", "/referral/add"),
    ]
    for request in standin.requests:
        assert {k: request.query[k] for k in CREDENTIALS} == CREDENTIALS
        assert request.query["format"] == "json"
    subject_id, referrer_id = sorted(standin.profiles)
    subject = standin.profile(subject_id)
    assert (subject["first_name"], subject["surname"]) == ("Margaret", "Hughes")
    assert subject["mobile"] == "07700900456"
    assert subject["postcode"] == "LS1 4AP"
    assert subject["email"] == "margaret@example.org"
    assert subject["publishable"] == "1"
    assert standin.profile(referrer_id)["mobile"] == "+447700900118"
    assert standin.profile(referrer_id)["role"] == "contact"
    [added] = standin.referrals
    assert (added["attendee"], added["referrer"]) == (str(subject_id), str(referrer_id))
    assert added["workareaid"] == "22"
    assert added["date_from"] == "2026-03-02"
    assert added["Intake_reference"] == referral.reference
    for expected in (referral.reference, "Care Act advocacy referral", "Needs assessment (s9)"):
        assert expected in added["referral_reason"]
    assert outcomes(rt, referral.id) == [("delivered", 200)]


def test_an_existing_profile_is_found_not_made_again(rt: Runtime, standin: Lamplight) -> None:
    known = standin.seed(
        "user", first_name="Margaret", surname="Hughes", email="MARGARET@example.org"
    )
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    assert [r.path for r in standin.requests if r.method == "POST"] == [
        "/people/add/role/contact",
        "/referral/add",
    ]
    assert standin.referrals[0]["attendee"] == str(known)


def test_a_retry_finds_the_profiles_its_first_attempt_made(rt: Runtime, standin: Lamplight) -> None:
    """Both profiles are made, then adding the referral fails (503): the retry finds them."""
    answer = standin.answer
    failed: list[str] = []

    def busy_once(request: Request) -> Answer:
        if request.path.rstrip("/") == "/referral/add" and not failed:
            failed.append(request.path)
            return Answer(503, {"error": "busy"})
        return answer(request)

    standin.answer = busy_once  # type: ignore[method-assign]
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    run_due(rt)
    work(rt)
    assert outcomes(rt, referral.id) == [("retry", 503), ("delivered", 200)]
    assert len(standin.profiles) == 2
    assert len(standin.referrals) == 1


def test_what_lamplight_would_refuse_is_kept_out_of_the_profile(
    rt: Runtime, standin: Lamplight
) -> None:
    referral = third_party(
        rt,
        name="Margaret <Peggy> Hughes",
        phone="0113 496 0000",  # a landline, not in a form Lamplight's validation names
        postcode="not a postcode",
        email=None,
        referrer={"name": "Ellen"},
    )
    rt.store.add_message(
        referral.id,
        InboundMessage(
            "sms", "SM" + "c" * 32, referral.sender, "+447700900001", "see <b>this</b> <script>"
        ),
    )
    forwarding.schedule(rt, referral)
    work(rt)
    assert outcomes(rt, referral.id) == [("delivered", 200)]
    subject = standin.profile(min(standin.profiles))
    assert "mobile" not in subject and "phone" not in subject and "postcode" not in subject
    assert subject["first_name"] == "Margaret \u2039Peggy\u203a"
    reason = standin.referrals[0]["referral_reason"]
    assert "<" not in reason and "\u2039b\u203athis\u2039/b\u203a" in reason
    assert "0113 496 0000" in reason  # the number is still there for a person to read


def test_an_error_answer_is_a_refusal(rt: Runtime, standin: Lamplight) -> None:
    referral = third_party(rt)
    # A refused search only means "no match" (people may not be published); a refused profile
    # is final.
    standin.answer_next(400, 400)
    forwarding.schedule(rt, referral)
    work(rt)
    assert scheduled(rt) == {}
    assert outcomes(rt, referral.id) == [("rejected", 400)]
    assert [(r.method, r.answered) for r in standin.requests] == [("GET", 400), ("POST", 400)]


def test_invalid_referral_data_is_refused_with_lamplights_code(
    make_runtime: Callable[..., Runtime], standin: Lamplight
) -> None:
    rt = make_runtime(**settings_for(standin.url, lamplight_workarea_id="0"))
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    assert outcomes(rt, referral.id) == [("rejected", 400)]
    assert "1040" in forwarding.failed(rt.store)[0]["error"]


def test_wrong_credentials_are_refused(
    make_runtime: Callable[..., Runtime], standin: Lamplight
) -> None:
    rt = make_runtime(**settings_for(standin.url, lamplight_key="old-key"))
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    assert outcomes(rt, referral.id) == [("rejected", 401)]
    assert [r.answered for r in standin.requests] == [401, 401]  # the search, the profile
    assert standin.profiles == {} and standin.referrals == []


def test_429_and_5xx_are_retried(rt: Runtime, standin: Lamplight) -> None:
    standin.answer_next(429, 502)
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    for _ in range(3):
        work(rt)
        run_due(rt)
    assert outcomes(rt, referral.id) == [("retry", 429), ("retry", 502), ("delivered", 200)]
    assert len(standin.referrals) == 1


def test_people_not_published_means_a_new_profile(
    make_runtime: Callable[..., Runtime],
) -> None:
    system = Lamplight(people_published=False)
    try:
        rt = make_runtime(**settings_for(system.url))
        referral = add_referral(
            rt, fields={"referral_for": "self", "name": "Daniel Price", "phone": "+447700900222"}
        )
        forwarding.schedule(rt, referral)
        work(rt)
    finally:
        system.close()
    assert outcomes(rt, referral.id) == [("delivered", 200)]
    [(ident, profile)] = system.profiles.items()
    assert profile["mobile"] == "+447700900222"
    assert system.referrals[0]["attendee"] == system.referrals[0]["referrer"] == str(ident)


def test_updates_are_not_sent_and_erasure_asks_for_the_manual_step(
    rt: Runtime, standin: Lamplight
) -> None:
    referral = third_party(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    add_message(rt, referral)
    assert forwarding.schedule(rt, referral, "updated") is False
    sent = len(standin.requests)
    stored = rt.store.get_referral(referral.reference)
    erased = ForwardEvent("erased", "erased", 3, datetime(2026, 3, 4, tzinfo=UTC), stored, [])
    with pytest.raises(Rejected, match=r"delete the referral record .*Intake reference"):
        lamplight.send(rt.settings, erased)
    assert len(standin.requests) == sent


def test_settings_are_checked() -> None:
    settings = load_settings(
        {"CASE_SYSTEM": "lamplight", "LAMPLIGHT_API_URL": "https://lamplight.online/api/"},
        dotenv=False,
    )
    assert settings.lamplight_api_url == "https://lamplight.online/api"
    assert problems(settings) == [
        "CASE_SYSTEM names lamplight but LAMPLIGHT_KEY, LAMPLIGHT_LAMPID, LAMPLIGHT_PROJECT, "
        "LAMPLIGHT_WORKAREA_ID are not set"
    ]
    wrong = settings.with_(
        lamplight_key="k",
        lamplight_lampid="x1",
        lamplight_project="2",
        lamplight_workarea_id="3",
        lamplight_role="org",
    )
    assert problems(wrong) == [
        "LAMPLIGHT_LAMPID must be a Lamplight id (digits), not 'x1'",
        "LAMPLIGHT_ROLE must be one of user, contact, staff, funder, not 'org'",
    ]


def test_phone_and_postcode_forms() -> None:
    assert lamplight.phone_fields("+44 7700 900118") == {"mobile": "+447700900118"}
    assert lamplight.phone_fields("+441134960000") == {"phone": "+441134960000"}
    assert lamplight.phone_fields("0113 496 0000") == {}
    assert lamplight.postcode("sw1a1aa") == "SW1A 1AA"
    assert lamplight.postcode("LS1 4AP") == "LS1 4AP"
    assert lamplight.postcode("12345") is None
