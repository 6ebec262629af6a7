"""`fhir`: each referral event as an HL7 FHIR R4 transaction Bundle POSTed to `FHIR_BASE_URL`.

Resources: ServiceRequest (the referral), Patient (the person it is for), RelatedPerson (a
third-party referrer), Communication (each message), Flag (each safeguarding concern). Every
entry is a conditional update (`PUT Type?identifier=system|value`), so the first event creates the
case and every later event, or a redelivery, updates the same resources instead of adding more.
An `erased` event deletes them the same way (conditional `DELETE`, FHIR R4 http.html#cdelete).

ServiceRequest, Patient and Communication follow the UK Core profiles (HL7 UK; UKCore-Patient
2.6.1, UKCore-ServiceRequest 2.5.1, UKCore-Communication 2.1.0) and say so in `meta.profile`:

- Patient: the NHS number in the `nhsNumber` identifier slice (system
  https://fhir.nhs.uk/Id/nhs-number, a modulus-11-valid number only) with
  Extension-UKCore-NHSNumberVerificationStatus `02` "Number present but not traced" (it came
  from a message, not from PDS); the core `patient-interpreterRequired` extension; the language
  in `communication.language`, coded in BCP 47 as its required binding demands; contact method
  and written format (large print, easy read) in Extension-UKCore-ContactPreference.
- ServiceRequest: `priority` from the urgency (emergency `stat`, urgent `urgent`, routine
  `routine`) with the reasons in Extension-UKCore-PriorityReason; who referred in
  Extension-UKCore-SourceOfServiceRequest (SNOMED CT); the statutory deadline as the end of
  `occurrencePeriod`; the eligibility card and communication needs in `note`.
- Communication: `subject` (must-support) on every message.

The Bundle is validated with `fhir.resources` (R4B models, which share R4's shape for these five
resources) before it leaves: a malformed bundle is a bug to fix, not something to retry. The UK
Core constraints are checked by the tests (the official validator and the UK Core package are
not available here).
"""

from __future__ import annotations

import re
import tomllib
import uuid
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from intake.config import Settings
from intake.extraction.identity import nhs_checksum_ok
from intake.failures import Rejected
from intake.forwarding import form, payload
from intake.forwarding.base import Delivered, ForwardEvent, post

REFERRAL_SYSTEM = "urn:intake:referral-reference"
SUBJECT_SYSTEM = "urn:intake:referral-subject"
REFERRER_SYSTEM = "urn:intake:referral-referrer"
MESSAGE_SYSTEM = "urn:intake:message"
FLAG_SYSTEM = "urn:intake:safeguarding-concern"
# Carried by every message and flag as a second identifier, so erasure can find them all.
PART_OF_SYSTEM = "urn:intake:part-of-referral"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
CONTENT_TYPE = "application/fhir+json"

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/"
PROFILE = {
    "Patient": UK_CORE + "UKCore-Patient",
    "ServiceRequest": UK_CORE + "UKCore-ServiceRequest",
    "Communication": UK_CORE + "UKCore-Communication",
}
NHS_VERIFICATION = UK_CORE + "Extension-UKCore-NHSNumberVerificationStatus"
NHS_VERIFICATION_SYSTEM = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
)
INTERPRETER = "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
CONTACT_PREFERENCE = UK_CORE + "Extension-UKCore-ContactPreference"
CONTACT_METHOD_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod"
WRITTEN_FORMAT_SYSTEM = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredWrittenCommunicationFormat"
)
PRIORITY_REASON = UK_CORE + "Extension-UKCore-PriorityReason"
SOURCE_OF_REQUEST = UK_CORE + "Extension-UKCore-SourceOfServiceRequest"
SNOMED = "http://snomed.info/sct"
BCP47 = "urn:ietf:bcp:47"

# FHIR request-priority codes: routine | urgent | asap | stat.
PRIORITY = {"emergency": "stat", "urgent": "urgent", "routine": "routine"}
ADVOCACY = {
    "imha": "Independent Mental Health Advocacy (IMHA)",
    "imca": "Independent Mental Capacity Advocacy (IMCA)",
    "care_act": "Care Act advocacy",
    "nhs_complaints": "NHS complaints advocacy",
    "childrens": "Children and young people's advocacy",
    "general": "Advocacy",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def destination(settings: Settings) -> str:
    return settings.fhir_base_url


@lru_cache(maxsize=1)
def codes() -> dict[str, Any]:
    """data/uk_core.toml: languages (BCP 47), contact methods, written formats, referral sources."""
    text = resources.files("intake.forwarding").joinpath("data", "uk_core.toml").read_text()
    return tomllib.loads(text)


def _full_url(reference: str, role: str) -> str:
    """Stable per referral and role, so every attempt sends the same Bundle."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'intake:{reference}:{role}')}"


def _telecom(value: str) -> dict[str, str] | None:
    if not value:
        return None
    if "@" in value:
        return {"system": "email", "value": value}
    return {"system": "phone", "value": value}


def _entry(resource: dict[str, Any], full_url: str, system: str, value: str) -> dict[str, Any]:
    kind = resource["resourceType"]
    resource["identifier"] = [{"system": system, "value": value}, *resource.get("identifier", [])]
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "PUT", "url": f"{kind}?identifier={system}|{value}"},
    }


def nhs_identifier(value: Any) -> dict[str, Any] | None:
    """The UKCore-Patient `nhsNumber` identifier slice, for a modulus-11-valid NHS number only.

    Verification status `02` "Number present but not traced": the number was written in a
    message, nobody has traced it on the Personal Demographics Service.
    """
    digits = re.sub(r"\D", "", str(value or ""))
    if len(digits) != 10 or not nhs_checksum_ok(digits):
        return None
    return {
        "extension": [
            {
                "url": NHS_VERIFICATION,
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": NHS_VERIFICATION_SYSTEM,
                            "code": "02",
                            "display": "Number present but not traced",
                        }
                    ]
                },
            }
        ],
        "system": NHS_NUMBER_SYSTEM,
        "value": digits,
    }


def _needs(found: dict[str, Any]) -> list[str]:
    needs = found.get("accessibility_needs")
    if isinstance(needs, str):
        needs = [needs]
    return [str(n).lower() for n in needs or [] if n]


def language_coding(name: Any) -> dict[str, Any] | None:
    """A language as BCP 47 (Patient.communication.language's required binding), or None."""
    table: dict[str, str] = codes()["languages"]
    wanted = str(name or "").strip().lower()
    for label, tag in table.items():
        if label.lower() == wanted or tag == wanted:
            return {"coding": [{"system": BCP47, "code": tag, "display": label}], "text": label}
    return None


def contact_preference(found: dict[str, Any]) -> dict[str, Any] | None:
    """Extension-UKCore-ContactPreference: how to contact them and the written format they need."""
    table = codes()
    parts: list[dict[str, Any]] = []
    needs = _needs(found)
    method = str(found.get("preferred_contact") or "").lower()
    # A need that rules out a voice call decides the method (Accessible Information Standard):
    # sign language, Relay UK's text relay (Minicom/textphone), or "no telephone contact".
    for need, code in (("bsl", "bsl"), ("relay uk", "relay uk"), ("text only (deaf)", "no phone")):
        if need in needs and (not method or method == "phone"):
            method = code
            break
    if method in table["contact_method"]:
        code, display = table["contact_method"][method]
        parts.append(
            {
                "url": "PreferredContactMethod",
                "valueCodeableConcept": {
                    "coding": [{"system": CONTACT_METHOD_SYSTEM, "code": code, "display": display}]
                },
            }
        )
    for need in needs:
        if need in table["written_format"]:
            code, display = table["written_format"][need]
            concept: dict[str, Any] = {"text": display}
            if code:
                concept["coding"] = [
                    {"system": WRITTEN_FORMAT_SYSTEM, "code": code, "display": display}
                ]
            parts.append(
                {"url": "PreferredWrittenCommunicationFormat", "valueCodeableConcept": concept}
            )
            break  # the extension allows one written format
    return {"url": CONTACT_PREFERENCE, "extension": parts} if parts else None


def uk_patient(data: dict[str, Any], found: dict[str, Any], third_party: bool) -> dict[str, Any]:
    """The person the referral is for, as a UKCore-Patient."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "meta": {"profile": [PROFILE["Patient"]]},
    }
    extensions: list[dict[str, Any]] = []
    needs = _needs(found)
    writes_in = [data.get("language_preference"), data.get("language")]
    foreign = [c for c in writes_in if c and c not in ("en", "easy-read")]
    if found.get("interpreter_language") or "bsl" in needs or foreign:
        extensions.append({"url": INTERPRETER, "valueBoolean": True})
    preference = contact_preference(found)
    if preference:
        extensions.append(preference)
    if extensions:
        patient["extension"] = extensions
    nhs = nhs_identifier(found.get("nhs_number"))
    if nhs:
        patient["identifier"] = [nhs]
    name = found.get("subject_name") or found.get("name")
    if name:
        patient["name"] = [{"text": str(name)}]
    if isinstance(found.get("dob"), str) and _DATE.match(found["dob"]):
        patient["birthDate"] = found["dob"]
    telecoms = [found.get("phone", ""), found.get("email", "")]
    if not third_party:
        telecoms.append(data["sender"])
    unique = [t for t in dict.fromkeys(str(v) for v in telecoms if v)]
    if unique:
        patient["telecom"] = [t for t in (_telecom(v) for v in unique) if t]
    if found.get("postcode"):
        patient["address"] = [{"postalCode": str(found["postcode"])}]
    # The language they asked to be written to in first (preferred), then the interpreter's,
    # then the one they write in.
    languages = [
        language_coding(data.get("language_preference")),
        language_coding(found.get("interpreter_language")),
        language_coding(data.get("language")) if foreign else None,
    ]
    if "bsl" in needs:
        languages.append(language_coding("British Sign Language"))
    coded = list({_language_key(c): c for c in languages if c}.values())
    if coded:
        patient["communication"] = [
            {"language": concept, "preferred": index == 0} for index, concept in enumerate(coded)
        ]
    return patient


def _language_key(concept: dict[str, Any]) -> str:
    return str(concept["coding"][0]["code"])


def _source(found: dict[str, Any], third_party: bool) -> dict[str, Any] | None:
    table: dict[str, list[str]] = codes()["source"]
    about = found.get("referrer") if isinstance(found.get("referrer"), dict) else {}
    word = "self" if not third_party else str(found.get("relationship") or about.get("role") or "")
    if word.lower() not in table:
        return None
    code, display = table[word.lower()]
    return {
        "url": SOURCE_OF_REQUEST,
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
    }


def uk_service_request(
    data: dict[str, Any], found: dict[str, Any], third_party: bool, reasons: list[str] | None = None
) -> dict[str, Any]:
    """The referral as a UKCore-ServiceRequest (subject and requester are set by the caller)."""
    card = form.eligibility_card(found)
    notes = [
        f"Received by {data['channel']} from {data['sender']}.",
        f"Urgency: {data['urgency']}.",
    ]
    if not data["safe_to_contact"]:
        notes.append("NOT SAFE TO CONTACT: do not text or ring back without checking.")
    if data["safeguarding"]:
        notes.append("Safeguarding concerns: " + ", ".join(data["safeguarding"]) + ".")
    if found.get("setting"):
        notes.append(f"Setting: {found['setting']}.")
    needs = [
        *(
            [f"{found['interpreter_language']} interpreter"]
            if found.get("interpreter_language")
            else []
        ),
        *_needs(found),
    ]
    if needs:
        notes.append("Communication needs: " + "; ".join(needs) + ".")
    if card:
        evidence = data.get("eligibility_evidence") or {}

        def said(key: str) -> str:
            # the words each value was read from, so the case worker can check it
            words = (evidence.get(key) or {}).get("text")
            return f' (from "{words}")' if words else ""

        notes.append(
            "Eligibility: "
            + "; ".join(f"{key}: {form.show(value)}{said(key)}" for key, value in card.items())
            + "."
        )
    for finding in data.get("eligibility_precheck") or []:
        notes.append(f"May be outside the criteria: {finding['why']}")
    advocacy = found.get("advocacy_type")
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "meta": {"profile": [PROFILE["ServiceRequest"]]},
        "status": "active",
        "intent": "order",
        "priority": PRIORITY.get(data["urgency"], "routine"),
        "category": [{"text": "Advocacy referral"}],
        "code": {"text": ADVOCACY.get(str(advocacy), str(advocacy)) if advocacy else "Advocacy"},
        "authoredOn": data["received_at"],
        "note": [{"text": " ".join(notes)}],
    }
    source = _source(found, third_party)
    if source:
        request["extension"] = [source]
    deadlines = form.deadlines(card, {"labels": {}})
    why = [*(reasons or []), *(f"deadline {d['date']}" for d in deadlines)]
    if data["safeguarding"]:
        why.insert(0, "safeguarding: " + ", ".join(data["safeguarding"]))
    if why:
        request["_priority"] = {
            "extension": [
                {"url": PRIORITY_REASON, "valueCodeableConcept": {"text": "; ".join(why)}}
            ]
        }
    statutory = [d for d in deadlines if "12 months" not in d["label"]]
    if statutory:
        request["occurrencePeriod"] = {"end": statutory[0]["date"]}
    return request


def build_bundle(event: ForwardEvent, rules: Path | None = None) -> dict[str, Any]:
    data = payload.build(event, rules)["referral"]
    ref = data["reference"]
    found = data["details"]
    third_party = found.get("referral_for") == "other"
    patient_url = _full_url(ref, "patient")
    referrer_url = _full_url(ref, "referrer") if third_party else patient_url
    request_url = _full_url(ref, "servicerequest")

    patient = uk_patient(data, found, third_party)
    entries = [_entry(patient, patient_url, SUBJECT_SYSTEM, ref)]

    if third_party:
        referrer: dict[str, Any] = {
            "resourceType": "RelatedPerson",
            "patient": {"reference": patient_url},
        }
        about = found.get("referrer") if isinstance(found.get("referrer"), dict) else {}
        if about.get("name"):
            referrer["name"] = [{"text": str(about["name"])}]
        if found.get("relationship"):
            referrer["relationship"] = [{"text": str(found["relationship"])}]
        contacts = dict.fromkeys(
            str(v) for v in (about.get("phone"), about.get("email"), data["sender"]) if v
        )
        referrer["telecom"] = [t for t in (_telecom(v) for v in contacts) if t]
        entries.append(_entry(referrer, referrer_url, REFERRER_SYSTEM, ref))

    raised = [
        str(m.get("category", "")).replace("_", " ")
        for m in event.referral.screening.get("matches") or []
        if isinstance(m, dict)
        and m.get("category") not in (None, "", "unsafe_contact", *event.referral.safeguarding)
    ]
    request = uk_service_request(data, found, third_party, list(dict.fromkeys(raised)))
    request["subject"] = {"reference": patient_url}
    request["requester"] = {"reference": referrer_url}
    entries.append(_entry(request, request_url, REFERRAL_SYSTEM, ref))

    for message in data["messages"]:
        key = f"{message['channel']}:{message['provider_id']}"
        communication = {
            "resourceType": "Communication",
            "meta": {"profile": [PROFILE["Communication"]]},
            "status": "completed",
            "basedOn": [{"reference": request_url}],
            "subject": {"reference": patient_url},
            "sender": {"reference": referrer_url},
            "medium": [{"text": message["channel"]}],
            "received": message["received_at"],
            "payload": [{"contentString": message["body"] or "(empty message)"}],
        }
        communication["identifier"] = [{"system": PART_OF_SYSTEM, "value": ref}]
        entries.append(_entry(communication, _full_url(ref, key), MESSAGE_SYSTEM, key))

    for concern in data["safeguarding"]:
        flag = {
            "resourceType": "Flag",
            "status": "active",
            "category": [
                {"coding": [{"system": FLAG_CATEGORY, "code": "safety", "display": "Safety"}]}
            ],
            "code": {"text": f"Safeguarding concern: {concern}"},
            "subject": {"reference": patient_url},
            "period": {"start": data["received_at"]},
            "identifier": [{"system": PART_OF_SYSTEM, "value": ref}],
        }
        entries.append(
            _entry(flag, _full_url(ref, f"flag:{concern}"), FLAG_SYSTEM, f"{ref}:{concern}")
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def validate(bundle: dict[str, Any]) -> str:
    """The Bundle as FHIR JSON once `fhir.resources` accepts it; raises `ValidationError`."""
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(bundle).model_dump_json(exclude_none=True)


def erasure_bundle(event: ForwardEvent) -> dict[str, Any]:
    """A transaction deleting every resource intake made for this referral: conditional DELETEs
    by identifier (FHIR R4 http.html#cdelete; messages and flags by the referral identifier they
    all carry, which a server must allow to match several). No personal data in it."""
    ref = event.referral.reference
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "DELETE", "url": f"{kind}?identifier={system}|{ref}"}}
            for kind, system in (
                ("Communication", PART_OF_SYSTEM),
                ("Flag", PART_OF_SYSTEM),
                ("ServiceRequest", REFERRAL_SYSTEM),
                ("RelatedPerson", REFERRER_SYSTEM),
                ("Patient", SUBJECT_SYSTEM),
            )
        ],
    }


def send(settings: Settings, event: ForwardEvent) -> Delivered:
    if not settings.fhir_base_url:
        raise Rejected("FHIR_BASE_URL is not set")
    bundle = (
        erasure_bundle(event)
        if event.event == "erased"
        else build_bundle(event, settings.eligibility_rules)
    )
    try:
        body = validate(bundle)
    except ValidationError as exc:
        raise Rejected(f"the FHIR bundle did not validate: {exc.error_count()} errors") from exc
    return post(
        settings,
        settings.fhir_base_url.rstrip("/") + "/",
        body.encode(),
        {"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE},
    )
