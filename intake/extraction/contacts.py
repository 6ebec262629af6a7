"""Phone numbers, email addresses and UK postcodes found in text, with where they occur.

Positions are kept so that :mod:`intake.extraction.attribution` can decide whose details they are.
UK drama/test ranges (07700 900xxx, 01632 960xxx) are "possible" but not "valid" to
``phonenumbers``; they are accepted when the length is right, because referrals in tests and
training use them and a real number that fails validation is still worth a call.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from intake.extraction import linear
from intake.extraction.vocab import load
from intake.reference import PATTERN as REFERENCE

# A number not preceded by a letter, digit or "+" (the character before it is consumed, and the
# next search starts where the number ended) and not followed by a digit.
_PHONE_CANDIDATE = linear.compile(
    r"(?:^|[^\p{L}\p{N}_+])(?P<phone>(?:\+|00)?\(?\d[\d\s().-]{7,18}\d)(?:[^\d]|$)"
)
_EMAIL = linear.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_POSTCODE = linear.compile(r"\b([A-Z]{1,2})(\d[A-Z\d]?)\s*(\d[A-Z]{2})\b", linear.IGNORECASE)
_SPOKEN_POSTCODE = linear.compile(
    r"post\s?code(?:\s+is|:)?\s+((?:[A-Za-z\d]{1,3}[\s,]+){1,7}[A-Za-z\d]{1,3})",
    linear.IGNORECASE,
)
_PHONE_PUNCTUATION = linear.compile(r"[\s().-]")
_SPACES_AND_COMMAS = linear.compile(r"[\s,]+")


@dataclass(frozen=True)
class Hit:
    """A value found in text and the character span it came from."""

    value: str
    start: int
    end: int


def to_e164(raw: str, region: str = "GB") -> str | None:
    """E.164 for a written number, or None when it cannot be a phone number.

    Only numbers written with a leading 0 or + count: a bare ten-digit run is more likely an NHS
    number than a phone number.
    """
    compact = _PHONE_PUNCTUATION.sub("", raw)
    if not compact.startswith(("0", "+")):
        return None
    try:
        number = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = str(number.national_number)
    if (
        number.country_code == 44
        and len(national) == 10
        and phonenumbers.is_possible_number(number)
    ):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def find_phones(text: str) -> list[Hit]:
    """Phone numbers in order of appearance, each as E.164; repeats are kept (positions differ)."""
    hits: list[Hit] = []
    for start, end in linear.spans(_PHONE_CANDIDATE, "phone", text):
        raw = text[start:end].rstrip(").- ")
        e164 = to_e164(raw)
        if e164:
            hits.append(Hit(e164, start, start + len(raw)))
    return hits



def find_emails(text: str) -> list[Hit]:
    """Email addresses in order of appearance, lower-cased."""
    return [Hit(m.group(0).lower(), m.start(), m.end()) for m in _EMAIL.finditer(text)]


def normalise_postcode(raw: str) -> str | None:
    """``"ls27aw"`` -> ``"LS2 7AW"``; None when it is not a UK postcode shape with a known area."""
    match = _POSTCODE.fullmatch(raw.strip())
    if not match:
        return None
    area, district, inward = (g.upper() for g in match.groups())
    if area not in set(load("uk")["postcode_areas"]):
        return None
    return f"{area}{district} {inward}"


def find_postcodes(text: str) -> list[Hit]:
    """Postcodes written normally, plus ones spelled out after "postcode is" (voicemail).

    A referral reference (`REF-S3V2RE`, quoted in every reply's subject) can have a postcode's
    shape: what lies inside one is never a postcode.
    """
    references = [m.span() for m in REFERENCE.finditer(text)]
    hits: list[Hit] = []
    for match in _POSTCODE.finditer(text):
        if any(start <= match.start() < end for start, end in references):
            continue
        value = normalise_postcode(match.group(0))
        if value:
            hits.append(Hit(value, match.start(), match.end()))
    if hits:
        return hits
    for match in _SPOKEN_POSTCODE.finditer(text):
        joined = _SPACES_AND_COMMAS.sub("", match.group(1))
        inner = _POSTCODE.match(joined)
        if inner:
            value = normalise_postcode(inner.group(0))
            if value:
                hits.append(Hit(value, match.start(1), match.end(1)))
    return hits
