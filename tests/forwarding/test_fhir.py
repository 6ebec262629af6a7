"""The FHIR forwarder: a transaction Bundle that fhir.resources accepts, POSTed to a real server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from intake import forwarding
from intake.forwarding import fhir
from intake.forwarding.base import ForwardEvent
from intake.runtime import Runtime
from tests.forwarding.case_system import CaseSystem
from tests.forwarding.conftest import add_message, add_referral, work


def event_for(rt: Runtime, reference: str, event: str = "created") -> ForwardEvent:
    referral = rt.store.get_referral(reference)
    assert referral is not None and referral.id is not None
    return ForwardEvent(
        event=event,
        event_id="created" if event == "created" else "upd-1",
        sequence=1,
        occurred_at=datetime(2026, 3, 2, 9, 20, tzinfo=UTC),
        referral=referral,
        messages=rt.store.messages_for(referral.id),
    )


def test_full_third_party_referral_validates(make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime()
    referral = add_referral(rt, safeguarding=("financial", "neglect"))
    add_message(rt, referral)
    bundle = fhir.build_bundle(event_for(rt, referral.reference))

    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "transaction"
    kinds = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == {
        "Patient": 1,
        "RelatedPerson": 1,
        "ServiceRequest": 1,
        "Communication": 2,
        "Flag": 2,
    }
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    by_type = {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}
    request = by_type["ServiceRequest"]
    assert request["priority"] == "urgent"
    assert request["identifier"][0] == {"system": fhir.REFERRAL_SYSTEM, "value": referral.reference}
    assert request["subject"]["reference"] in full_urls
    assert request["requester"]["reference"] != request["subject"]["reference"]
    assert by_type["RelatedPerson"]["patient"]["reference"] == request["subject"]["reference"]
    assert by_type["RelatedPerson"]["name"] == [{"text": "Ellen"}]
    assert by_type["Patient"]["name"] == [{"text": "Margaret Hughes"}]
    assert by_type["Patient"]["birthDate"] == "1938-02-03"
    for entry in bundle["entry"]:
        # Conditional updates: a later event or a redelivery updates the same resources.
        assert entry["request"]["method"] == "PUT"
        assert entry["request"]["url"].startswith(
            entry["resource"]["resourceType"] + "?identifier="
        )
    flags = sorted(
        e["resource"]["code"]["text"] for e in bundle["entry"] if "Flag" in e["request"]["url"]
    )
    assert flags == ["Safeguarding concern: financial", "Safeguarding concern: neglect"]
    texts = [
        e["resource"]["payload"][0]["contentString"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Communication"
    ]
    assert texts[0] == referral.raw_text


def test_self_referral_has_no_related_person(make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime()
    referral = add_referral(
        rt,
        urgency="emergency",
        safeguarding=(),
        fields={"referral_for": "self", "name": "Daniel Price", "advocacy_type": "imha"},
    )
    bundle = fhir.build_bundle(event_for(rt, referral.reference))
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "RelatedPerson" not in kinds and "Flag" not in kinds
    request = next(
        e["resource"]
        for e in bundle["entry"]
        if "ServiceRequest" in e["fullUrl"] or e["resource"]["resourceType"] == "ServiceRequest"
    )
    assert request["priority"] == "stat"
    assert request["requester"] == request["subject"]
    assert "IMHA" in request["code"]["text"]
    patient = bundle["entry"][0]["resource"]
    assert {"system": "phone", "value": referral.sender} in patient["telecom"]


def test_the_same_referral_gives_the_same_bundle(make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime()
    referral = add_referral(rt)
    assert fhir.build_bundle(event_for(rt, referral.reference)) == fhir.build_bundle(
        event_for(rt, referral.reference)
    )


def test_validation_refuses_a_malformed_bundle() -> None:
    broken = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": {"resourceType": "Flag", "status": "active"}}],  # no code
    }
    with pytest.raises(ValidationError):
        fhir.validate(broken)


def test_posts_the_bundle_and_updates_the_same_case(
    make_runtime: Callable[..., Runtime], case_system: CaseSystem
) -> None:
    rt = make_runtime(case_system=("fhir",), fhir_base_url=case_system.url + "/fhir/")
    referral = add_referral(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    add_message(rt, referral)
    forwarding.schedule(rt, referral, "updated")
    work(rt)

    first, second = case_system.requests
    assert first.path == "/fhir/"
    assert first.headers["Content-Type"] == "application/fhir+json"
    bundles = [Bundle.model_validate_json(r.body) for r in (first, second)]
    urls = [
        {e.request.url for e in b.entry if e.resource.get_resource_type() == "ServiceRequest"}
        for b in bundles
    ]
    assert (
        urls[0]
        == urls[1]
        == {f"ServiceRequest?identifier={fhir.REFERRAL_SYSTEM}|{referral.reference}"}
    )
    assert len(bundles[1].entry) == len(bundles[0].entry) + 1  # the new Communication
    assert [a["outcome"] for a in forwarding.attempts(rt.store, referral.id)] == [
        "delivered",
        "delivered",
    ]


def test_the_card_s_words_and_the_precheck_are_in_the_service_request(
    make_runtime: Callable[..., Runtime],
) -> None:
    from intake.extraction import extract
    from intake.forwarding import email, form

    rt = make_runtime()
    text = "The police have my brother on a section 136 since last night, can someone help"
    extracted = extract(text, "sms", received_at="2026-03-02T09:15:00+00:00").to_dict()
    referral = add_referral(rt, text=text, fields=extracted)
    event = event_for(rt, referral.reference)
    bundle = fhir.build_bundle(event)
    Bundle.model_validate(bundle)
    [request] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest"
    ]
    note = request["note"][0]["text"]
    assert 'mha_section: 136 (from "section 136")' in note
    assert "May be outside the criteria: Held under section 136" in note
    # the email form says it too
    page = email.html(rt.settings, form.for_event(rt.settings, event))
    assert "May be outside the criteria: Held under section 136" in page
