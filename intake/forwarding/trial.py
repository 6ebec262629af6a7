"""`intake forward test`: send a sample referral to the configured case system(s), print the answer.

The sample is made up (a fictional person, Ofcom's drama phone numbers, a checksum-valid NHS
number from NHS England's test range) and says it is a test in its name and its messages, so
whoever receives it can delete it; nothing is stored or queued. Each target is sent to directly,
once, with the process's own settings, so a provider sees at once whether the URL, the
credentials and the ids are right: the answer (status, or the refusal and its body) is printed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TextIO

from intake.config import Settings
from intake.failures import ProviderError
from intake.forwarding.base import ForwardEvent
from intake.forwarding.form import ADVOCACY_TYPES
from intake.forwarding.targets import FORWARDERS, ForwardingMisconfigured, check
from intake.models import Referral
from intake.reference import new_reference

SAMPLE_TEXT = (
    "TEST REFERRAL from intake (please delete). Hello, I'm Ellen, Margaret Testperson's "
    "daughter. Mum is on Ward 4 at St Luke's, detained under section 2 since Monday. She lacks "
    "capacity to decide where to live and they want to move her to a nursing home on Friday. "
    "She speaks Polish. Please call me on 07700 900118."
)
# Eligibility cards by advocacy type: what a sample form of each type shows.
CARDS: dict[str, dict[str, Any]] = {
    "imha": {"mha_section": "2", "detained_on": "2026-03-02", "tribunal_deadline": "2026-03-15"},
    "imca": {
        "decision_type": "accommodation",
        "decision_due": "2026-03-06",
        "lacks_capacity": True,
        "has_appropriate_person": False,
    },
    "care_act": {"care_act_stage": "needs_assessment", "has_appropriate_person": False},
    "nhs_complaints": {"complaint_service": "nhs", "incident_date": "2025-11-20"},
    "childrens": {},
    "general": {},
}


def sample_event(kind: str = "imca", *, now: datetime | None = None) -> ForwardEvent:
    """A `created` event of a made-up third-party referral of this advocacy type."""
    received = now or datetime.now(UTC)
    reference = new_reference()
    fields: dict[str, Any] = {
        "referral_for": "other",
        "name": "Margaret Testperson",
        "subject_name": "Margaret Testperson",
        "dob": "1938-02-03",
        "nhs_number": "9990000026",
        "postcode": "LS1 4AP",
        "relationship": "child",
        "referrer": {"name": "Ellen Testperson", "phone": "+447700900118"},
        "consent": True,
        "advocacy_type": kind,
        "setting": "hospital",
        "preferred_contact": "phone",
        "interpreter_language": "Polish",
        "accessibility_needs": ["large print"],
        "eligibility": dict(CARDS.get(kind, {})),
    }
    referral = Referral(
        reference=reference,
        channel="sms",
        sender="+447700900118",
        received_at=received,
        raw_text=SAMPLE_TEXT,
        urgency="urgent",
        safeguarding=[],
        screening={"needs_review": False, "matches": []},
        fields=fields,
    )
    message = {
        "channel": "sms",
        "provider_id": f"TEST{reference[-6:]}",
        "sender": referral.sender,
        "received_at": received,
        "body": SAMPLE_TEXT,
    }
    return ForwardEvent("created", "created", 1, received, referral, [message])


def run(settings: Settings, targets: list[str], kind: str, out: TextIO) -> int:
    """Send the sample to `targets` (default: every one `CASE_SYSTEM` names but `store`).

    Returns 0 when every target took it, 1 when one refused or could not be reached, 2 when the
    configuration is wrong (printed in one line, as at start-up).
    """
    if kind not in ADVOCACY_TYPES:
        print(f"unknown advocacy type {kind!r} (known: {', '.join(ADVOCACY_TYPES)})", file=out)
        return 2
    names = targets or [n for n in settings.case_system if n != "store"]
    if not names:
        print("CASE_SYSTEM names no case system to send to (only `store`)", file=out)
        return 2
    try:
        check(settings.with_(case_system=tuple(names)))
    except ForwardingMisconfigured as exc:
        print(f"configuration: {exc}", file=out)
        return 2
    event = sample_event(kind)
    print(f"sample referral {event.referral.reference} ({kind})", file=out)
    code = 0
    for name in names:
        forwarder = FORWARDERS[name]
        where = forwarder.destination(settings)
        try:
            delivered = forwarder.send(settings, event)
        except ProviderError as exc:
            kind_of = type(exc).__name__.lower()
            print(f"{name} -> {where}: {kind_of} ({exc.status_code or '-'}): {exc}", file=out)
            code = 1
        else:
            said = f"delivered ({delivered.status_code or '-'})"
            if delivered.detail:
                said += f": {delivered.detail}"
            print(f"{name} -> {where}: {said}", file=out)
    return code
