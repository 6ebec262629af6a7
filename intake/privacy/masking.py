"""Field-level access: what a volunteer sees of a referral they are not assigned.

Volunteers (the `volunteer` role) see referrals and their screening, as Aselo shows its
counsellors' supervisees; contact details only of referrals assigned to them. Hidden: the
sender's number or address, the person's and referrer's phone, email, postal address and
postcode, date of birth, NHS number and surname (the first name stays, so they can talk about
"Margaret"), and every phone number and email address written in a message. Pure: the dashboard
calls it before rendering (`intake.web.dashboard`).
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

HIDDEN = "[hidden]"
CONTACT_KEYS = frozenset(
    {"phone", "email", "address", "postcode", "dob", "nhs_number", "telephone", "mobile"}
)
NAME_KEYS = frozenset({"name", "subject_name", "full_name"})
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


def hides(role: str, assigned_to: str | None, email: str) -> bool:
    """Whether this person must not see the referral's contact details."""
    return role == "volunteer" and (assigned_to or "").lower() != email.lower()


def surnames(document: Any) -> list[str]:
    """Every name's words after the first, in an extracted-fields document (however nested)."""
    found: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key in NAME_KEYS and isinstance(value, str):
                found += [w for w in value.split()[1:] if len(w) > 1]
            elif isinstance(value, dict | list):
                found += surnames(value)
    elif isinstance(document, list):
        for item in document:
            found += surnames(item)
    return found


def text(value: str, names: list[str] | tuple[str, ...] = ()) -> str:
    """The text with every email address and phone number, and each of `names` (surnames,
    whole words, any case), replaced by "[hidden]"."""
    if not value:
        return value
    masked = _EMAIL.sub(HIDDEN, value)
    for name in sorted(set(names), key=len, reverse=True):
        masked = re.sub(rf"\b{re.escape(name)}\b", HIDDEN, masked, flags=re.IGNORECASE)
    try:
        found = list(
            phonenumbers.PhoneNumberMatcher(masked, "GB", leniency=phonenumbers.Leniency.POSSIBLE)
        )
    except Exception:  # a library edge case must not show the page unmasked
        return re.sub(r"\+?\d[\d ()-]{8,}\d", HIDDEN, masked)
    for match in reversed(found):
        masked = masked[: match.start] + HIDDEN + masked[match.end :]
    return masked


def fields(document: Any) -> Any:
    """Extracted fields with contact details hidden and names cut to the first name."""
    if isinstance(document, dict):
        out: dict[str, Any] = {}
        for key, value in document.items():
            if key in CONTACT_KEYS and value not in (None, ""):
                out[key] = HIDDEN
            elif key in NAME_KEYS and isinstance(value, str) and value.strip():
                out[key] = value.split()[0]
            elif key == "evidence":
                out[key] = {}  # the spans quote the message
            else:
                out[key] = fields(value)
        return out
    if isinstance(document, list):
        return [fields(v) for v in document]
    if isinstance(document, str):
        return text(document)
    return document
