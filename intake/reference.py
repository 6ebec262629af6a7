"""Referral references people can read out over the phone.

Six characters from an alphabet without look-alikes (no 0/O, 1/I/L, U) keep a reference easy to
say and type; 30**6 (about 729 million) values make a clash rare, and the store's unique index turns
the rare clash into a retry rather than a merge.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 6
PREFIX = "REF-"
PATTERN = re.compile(rf"\bREF-?([{ALPHABET}]{{{LENGTH}}})\b", re.IGNORECASE)


def new_reference() -> str:
    return PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def is_reference(value: str) -> bool:
    match = PATTERN.fullmatch(value.strip())
    return bool(match) and value.strip().upper().startswith(PREFIX)


def find_reference(text: str) -> str | None:
    """The first reference quoted in free text ("re my REF-7K2Q9D", "ref 7k2q9d" is not enough)."""
    match = PATTERN.search(text or "")
    return PREFIX + match.group(1).upper() if match else None
