"""Referral references people can read out over the phone: the one pattern intake recognises.

Six characters from an alphabet without look-alikes (no 0/O, 1/I/L, U) keep a reference easy to
say and type; 30**6 (about 729 million) values make a clash rare, and the store's unique index turns
the rare clash into a retry rather than a merge.

How a reference is recognised in free text, everywhere (email subjects and bodies, texts):
`REF-` and the six characters, in any case (`ref-7k2q9d`); or, typed without the hyphen, `REF`
and six characters of which at least one is a digit (`REF7K2Q9D`), so that the English words
"reference", "referee" and "referral" never read as one. New references always have a digit.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
DIGITS = "23456789"
LENGTH = 6
PREFIX = "REF-"
_CODE = f"[{ALPHABET}]{{{LENGTH}}}"
PATTERN = re.compile(
    rf"(?<![A-Za-z0-9])REF(?:-(?P<hyphened>{_CODE})|(?P<bare>(?=[{ALPHABET}]*[{DIGITS}]){_CODE}))"
    rf"(?![A-Za-z0-9])",
    re.IGNORECASE,
)


def new_reference() -> str:
    """`REF-` and six characters of `ALPHABET`, at least one of them a digit."""
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if any(c in DIGITS for c in code):
            return PREFIX + code


def is_reference(value: str) -> bool:
    """Whether `value` is exactly a reference in its canonical form (`REF-XXXXXX`)."""
    match = PATTERN.fullmatch(value.strip())
    return bool(match and match.group("hyphened")) and value.strip().upper().startswith(PREFIX)


def find_reference(text: str) -> str | None:
    """The first reference in free text, in its canonical form ("re my REF-7K2Q9D", "ref7k2q9d";
    not "ref 7k2q9d", which is too loose to trust)."""
    match = PATTERN.search(text or "")
    if match is None:
        return None
    return PREFIX + (match.group("hyphened") or match.group("bare")).upper()
