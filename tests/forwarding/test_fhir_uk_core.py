"""Each UK Core constraint the `fhir` forwarder relies on, checked on the Bundles it builds.

The constraints are taken from the UK Core StructureDefinitions (HL7 UK, NHSDigital/
FHIR-R4-UKCORE-STAGING-MAIN): UKCore-Patient 2.6.1, UKCore-ServiceRequest 2.5.1,
UKCore-Communication 2.1.0, Extension-UKCore-NHSNumberVerificationStatus,
Extension-UKCore-ContactPreference, Extension-UKCore-PriorityReason,
Extension-UKCore-SourceOfServiceRequest, and the code systems they bind to. The official
validator and the UK Core package cannot be installed from the registries these machines reach,
so each rule is written out here next to its source.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from intake.forwarding import fhir
from intake.forwarding.base import ForwardEvent
from intake.models import Referral

RECEIVED = datetime(2026, 11, 21, 14, 5, tzinfo=UTC)
UK = "https://fhir.hl7.org.uk/StructureDefinition/"
# CodeSystem-UKCore-NHSNumberVerificationStatusEngland 1.1.1: codes 01..08.
VERIFICATION_CODES = {f"0{n}" for n in range(1, 9)}
# CodeSystem-UKCore-PreferredContactMethod: 1..9; -PreferredWrittenCommunicationFormat: 11..13.
CONTACT_METHODS = {str(n) for n in range(1, 10)}
WRITTEN_FORMATS = {"11", "12", "13"}
# R4 request-priority (required binding on ServiceRequest.priority).
PRIORITIES = {"routine", "urgent", "asap", "stat"}
# BCP 47 language tag (RFC 5646), the shape all-languages admits: language[-script][-region].
BCP47 = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|\d{3}))?$")


def event(urgency: str = "urgent", **fields: Any) -> ForwardEvent:
    referral = Referral(
        reference="REF-7K2Q9D",
        channel="sms",
        sender="+447700900777",
        received_at=RECEIVED,
        raw_text="help",
        urgency=urgency,
        safeguarding=["psychological"],
        screening={"matches": [{"category": "psychological", "phrase": "sectioned"}]},
        fields={
            "referral_for": "other",
            "name": "Tomasz Nowak",
            "relationship": "sibling",
            **fields,
        },
    )
    messages = [
        {
            "channel": "sms",
            "provider_id": f"SM{i}",
            "sender": referral.sender,
            "received_at": RECEIVED,
            "body": f"message {i}",
        }
        for i in range(2)
    ]
    return ForwardEvent("created", "created", 1, RECEIVED, referral, messages)


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def one(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    [found] = resources(bundle, kind)
    return found


def extensions(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension", []) if e["url"] == url]


FULL = {
    "nhs_number": "943 476 5919",
    "interpreter_language": "Polish",
    "accessibility_needs": ["bsl", "large print"],
    "preferred_contact": "sms",
    "eligibility": {"mha_section": "2", "tribunal_deadline": "2026-12-04"},
}


def test_meta_profile_names_the_uk_core_profiles() -> None:
    bundle = fhir.build_bundle(event(**FULL))
    Bundle.model_validate(bundle)
    for kind in ("Patient", "ServiceRequest", "Communication"):
        for resource in resources(bundle, kind):
            assert resource["meta"]["profile"] == [UK + f"UKCore-{kind}"]


def test_the_nhs_number_slice_and_its_verification_status() -> None:
    patient = one(fhir.build_bundle(event(**FULL)), "Patient")
    # UKCore-Patient: identifier sliced by system; nhsNumber 0..1, system fixed, value 1..1.
    slices = [
        i for i in patient["identifier"] if i.get("system") == "https://fhir.nhs.uk/Id/nhs-number"
    ]
    assert len(slices) == 1
    [nhs] = slices
    assert nhs["value"] == "9434765919" and re.fullmatch(r"\d{10}", nhs["value"])
    # nhsNumberVerificationStatus 0..1; value[x] 1..1 CodeableConcept, required binding.
    [status] = extensions(nhs, UK + "Extension-UKCore-NHSNumberVerificationStatus")
    assert set(status) == {"url", "valueCodeableConcept"}
    [coding] = status["valueCodeableConcept"]["coding"]
    assert coding["system"] == (
        "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
    )
    assert coding["code"] in VERIFICATION_CODES
    assert coding == {
        "system": coding["system"],
        "code": "02",
        "display": "Number present but not traced",
    }


def test_a_number_failing_modulus_11_is_not_an_nhs_number() -> None:
    patient = one(fhir.build_bundle(event(nhs_number="9434765918")), "Patient")
    assert all(i["system"] != fhir.NHS_NUMBER_SYSTEM for i in patient["identifier"])


def test_interpreter_and_communication() -> None:
    patient = one(fhir.build_bundle(event(**FULL)), "Patient")
    [interpreter] = extensions(
        patient, "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
    )
    assert interpreter["valueBoolean"] is True
    # Patient.communication.language: required binding to all-languages (BCP 47).
    languages = [c["language"]["coding"][0] for c in patient["communication"]]
    assert [(c["system"], c["code"]) for c in languages] == [
        ("urn:ietf:bcp:47", "pl"),
        ("urn:ietf:bcp:47", "bfi"),
    ]
    assert all(BCP47.match(c["code"]) for c in languages)
    assert [c["preferred"] for c in patient["communication"]] == [True, False]


def test_a_language_without_a_code_is_not_sent_uncoded() -> None:
    patient = one(fhir.build_bundle(event(interpreter_language="Klingon")), "Patient")
    assert "communication" not in patient
    assert extensions(
        patient, "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
    )
    note = one(fhir.build_bundle(event(interpreter_language="Klingon")), "ServiceRequest")["note"]
    assert "Klingon interpreter" in note[0]["text"]


def test_contact_preference() -> None:
    patient = one(fhir.build_bundle(event(**FULL)), "Patient")
    [preference] = extensions(patient, UK + "Extension-UKCore-ContactPreference")
    assert "valueCodeableConcept" not in preference  # value[x] 0..0: only sub-extensions
    parts = {e["url"]: e["valueCodeableConcept"] for e in preference["extension"]}
    assert set(parts) == {"PreferredContactMethod", "PreferredWrittenCommunicationFormat"}
    [method] = parts["PreferredContactMethod"]["coding"]
    assert method["system"] == "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod"
    assert method["code"] in CONTACT_METHODS and method["code"] == "9"
    [written] = parts["PreferredWrittenCommunicationFormat"]["coding"]
    assert written["system"] == (
        "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredWrittenCommunicationFormat"
    )
    assert written["code"] in WRITTEN_FORMATS and written["code"] == "11"
    easy = one(fhir.build_bundle(event(accessibility_needs=["easy read"])), "Patient")
    [pref] = extensions(easy, UK + "Extension-UKCore-ContactPreference")
    # Extensible binding: no code for easy read, so text only.
    assert pref["extension"] == [
        {
            "url": "PreferredWrittenCommunicationFormat",
            "valueCodeableConcept": {"text": "Easy read"},
        }
    ]


def test_priority_from_urgency_with_its_reason() -> None:
    for urgency, code in (("emergency", "stat"), ("urgent", "urgent"), ("routine", "routine")):
        request = one(fhir.build_bundle(event(urgency, **FULL)), "ServiceRequest")
        assert request["priority"] == code and code in PRIORITIES
        assert (request["status"], request["intent"]) == ("active", "order")
        assert request["subject"]["reference"].startswith("urn:uuid:")
    [reason] = request["_priority"]["extension"]
    assert reason["url"] == UK + "Extension-UKCore-PriorityReason"
    assert reason["valueCodeableConcept"]["text"] == (
        "safeguarding: psychological; deadline 2026-12-04"
    )
    assert request["occurrencePeriod"] == {"end": "2026-12-04"}
    assert (
        "Eligibility: mha_section: 2; tribunal_deadline: 2026-12-04." in request["note"][0]["text"]
    )


def test_source_of_the_service_request() -> None:
    request = one(fhir.build_bundle(event(**FULL)), "ServiceRequest")
    [source] = extensions(request, UK + "Extension-UKCore-SourceOfServiceRequest")
    assert source["valueCodeableConcept"]["coding"] == [
        {"system": "http://snomed.info/sct", "code": "185373006", "display": "Referred by family"}
    ]
    own = one(fhir.build_bundle(event(referral_for="self")), "ServiceRequest")
    [source] = extensions(own, UK + "Extension-UKCore-SourceOfServiceRequest")
    assert source["valueCodeableConcept"]["coding"][0]["code"] == "310434002"
    unknown = one(fhir.build_bundle(event(relationship="landlord")), "ServiceRequest")
    assert "extension" not in unknown


def test_every_communication_has_its_subject() -> None:
    bundle = fhir.build_bundle(event(**FULL))
    patient_url = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    communications = resources(bundle, "Communication")
    assert len(communications) == 2
    assert all(c["subject"] == {"reference": patient_url} for c in communications)


def test_erasure_deletes_every_resource_by_identifier() -> None:
    erased = event()
    bundle = fhir.erasure_bundle(ForwardEvent("erased", "erased", 4, RECEIVED, erased.referral, []))
    Bundle.model_validate(bundle)
    urls = [e["request"]["url"] for e in bundle["entry"]]
    assert all(e["request"]["method"] == "DELETE" for e in bundle["entry"])
    assert urls == [
        f"Communication?identifier={fhir.PART_OF_SYSTEM}|REF-7K2Q9D",
        f"Flag?identifier={fhir.PART_OF_SYSTEM}|REF-7K2Q9D",
        f"ServiceRequest?identifier={fhir.REFERRAL_SYSTEM}|REF-7K2Q9D",
        f"RelatedPerson?identifier={fhir.REFERRER_SYSTEM}|REF-7K2Q9D",
        f"Patient?identifier={fhir.SUBJECT_SYSTEM}|REF-7K2Q9D",
    ]
    built = fhir.build_bundle(event(**FULL))
    for kind in ("Communication", "Flag"):
        for resource in resources(built, kind):
            assert {"system": fhir.PART_OF_SYSTEM, "value": "REF-7K2Q9D"} in resource["identifier"]


def _method(patient: dict[str, Any]) -> str:
    [preference] = extensions(patient, UK + "Extension-UKCore-ContactPreference")
    parts = {e["url"]: e["valueCodeableConcept"] for e in preference["extension"]}
    [coding] = parts["PreferredContactMethod"]["coding"]
    assert coding["code"] in CONTACT_METHODS
    return str(coding["code"])


def test_needs_that_rule_out_a_voice_call_decide_the_contact_method() -> None:
    # Relay UK: Minicom (Textphone); "text only, I am deaf": No Telephone contact; BSL: Sign
    # language; each overrides "phone", never a stated written channel.
    relay = one(fhir.build_bundle(event(accessibility_needs=["relay uk"])), "Patient")
    assert _method(relay) == "5"
    deaf = event(accessibility_needs=["text only (deaf)"], preferred_contact="phone")
    assert _method(one(fhir.build_bundle(deaf), "Patient")) == "8"
    bsl = event(accessibility_needs=["bsl"], preferred_contact="email")
    assert _method(one(fhir.build_bundle(bsl), "Patient")) == "4"


def test_the_language_they_asked_for_is_the_preferred_communication() -> None:
    sent = event()
    sent.referral.language = "pl"
    sent.referral.language_preference = "cy"
    bundle = fhir.build_bundle(sent)
    Bundle.model_validate(bundle)
    patient = one(bundle, "Patient")
    codes = [(c["language"]["coding"][0]["code"], c["preferred"]) for c in patient["communication"]]
    assert codes == [("cy", True), ("pl", False)]
    assert extensions(
        patient, "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
    )
