"""`fhir`: each referral event as an HL7 FHIR R4 transaction Bundle POSTed to `FHIR_BASE_URL`.

Resources: ServiceRequest (the referral), Patient (the person it is for), RelatedPerson (a
third-party referrer), Communication (each message), Flag (each safeguarding concern). Every
entry is a conditional update (`PUT Type?identifier=system|value`), so the first event creates the
case and every later event, or a redelivery, updates the same resources instead of adding more.

The Bundle is validated with `fhir.resources` (R4B models, which share R4's shape for these five
resources) before it leaves: a malformed bundle is a bug to fix, not something to retry.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import ValidationError

from intake.config import Settings
from intake.failures import Rejected
from intake.forwarding import payload
from intake.forwarding.base import Delivered, ForwardEvent, post

REFERRAL_SYSTEM = "urn:intake:referral-reference"
SUBJECT_SYSTEM = "urn:intake:referral-subject"
REFERRER_SYSTEM = "urn:intake:referral-referrer"
MESSAGE_SYSTEM = "urn:intake:message"
FLAG_SYSTEM = "urn:intake:safeguarding-concern"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
CONTENT_TYPE = "application/fhir+json"

# FHIR request-priority codes: routine | urgent | asap | stat.
PRIORITY = {"emergency": "stat", "urgent": "urgent", "routine": "routine"}
ADVOCACY = {
    "imha": "Independent Mental Health Advocacy (IMHA)",
    "imca": "Independent Mental Capacity Advocacy (IMCA)",
    "care_act": "Care Act advocacy",
    "nhs_complaints": "NHS complaints advocacy",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def destination(settings: Settings) -> str:
    return settings.fhir_base_url


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


def build_bundle(event: ForwardEvent) -> dict[str, Any]:
    data = payload.build(event)["referral"]
    ref = data["reference"]
    found = data["details"]
    third_party = found.get("referral_for") == "other"
    patient_url = _full_url(ref, "patient")
    referrer_url = _full_url(ref, "referrer") if third_party else patient_url
    request_url = _full_url(ref, "servicerequest")

    patient: dict[str, Any] = {"resourceType": "Patient"}
    if found.get("nhs_number"):
        patient["identifier"] = [
            {"system": NHS_NUMBER_SYSTEM, "value": str(found["nhs_number"]).replace(" ", "")}
        ]
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
    if found.get("interpreter_language"):
        patient["communication"] = [
            {"language": {"text": str(found["interpreter_language"])}, "preferred": True}
        ]
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
    advocacy = found.get("advocacy_type")
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "priority": PRIORITY.get(data["urgency"], "routine"),
        "category": [{"text": "Advocacy referral"}],
        "code": {"text": ADVOCACY.get(str(advocacy), str(advocacy)) if advocacy else "Advocacy"},
        "subject": {"reference": patient_url},
        "requester": {"reference": referrer_url},
        "authoredOn": data["received_at"],
        "note": [{"text": " ".join(notes)}],
    }
    entries.append(_entry(request, request_url, REFERRAL_SYSTEM, ref))

    for message in data["messages"]:
        key = f"{message['channel']}:{message['provider_id']}"
        communication = {
            "resourceType": "Communication",
            "status": "completed",
            "basedOn": [{"reference": request_url}],
            "subject": {"reference": patient_url},
            "sender": {"reference": referrer_url},
            "medium": [{"text": message["channel"]}],
            "received": message["received_at"],
            "payload": [{"contentString": message["body"] or "(empty message)"}],
        }
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
        }
        entries.append(
            _entry(flag, _full_url(ref, f"flag:{concern}"), FLAG_SYSTEM, f"{ref}:{concern}")
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def validate(bundle: dict[str, Any]) -> str:
    """The Bundle as FHIR JSON once `fhir.resources` accepts it; raises `ValidationError`."""
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(bundle).model_dump_json(exclude_none=True)


def send(settings: Settings, event: ForwardEvent) -> Delivered:
    if not settings.fhir_base_url:
        raise Rejected("FHIR_BASE_URL is not set")
    try:
        body = validate(build_bundle(event))
    except ValidationError as exc:
        raise Rejected(f"the FHIR bundle did not validate: {exc.error_count()} errors") from exc
    return post(
        settings,
        settings.fhir_base_url.rstrip("/") + "/",
        body.encode(),
        {"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE},
    )
