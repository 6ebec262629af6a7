"""Whose contact details are these: the sender's, the subject's, or someone else's?

The words just before a number or address usually say ("his number is", "call me on",
"my daughter's number is"); failing that, the words just after ("... is my number"). A detail
equal to the channel's From is the sender's.
"""

from __future__ import annotations

from typing import Literal

from intake.extraction import linear
from intake.extraction.contacts import Hit
from intake.extraction.identity import kin_words
from intake.extraction.vocab import compiled

Owner = Literal["sender", "subject", "kin", "unknown"]

_CLAUSE_END = linear.compile(r"[.!?\n,]")
_SENDER = r"\b(?:me|my|i'?m|i am|myself|us)\b"
_SUBJECT = (
    r"\b(?:his|her|their|him|them|he|she|they|he'?s|she'?s"
    r"|the ward|the unit|the hospice|ward|unit)\b"
)


def _last_cue(window: str) -> Owner:
    kin_possessive = compiled(rf"\bmy\s+(?:{kin_words()})'?s\b")
    cues: list[tuple[int, Owner]] = []
    cues += [(m.end(), "kin") for m in kin_possessive.finditer(window)]
    cues += [
        (m.end(), "sender")
        for m in compiled(_SENDER).finditer(window)
        if not kin_possessive.match(window, m.start())
    ]
    cues += [(m.end(), "subject") for m in compiled(_SUBJECT).finditer(window)]
    return max(cues)[1] if cues else "unknown"


def owner(text: str, hit: Hit, sender_values: set[str]) -> Owner:
    """Who a phone number or email address in ``text`` belongs to."""
    if hit.value in sender_values:
        return "sender"
    sentence_start = max(text.rfind(ch, 0, hit.start) for ch in ".!?\n:") + 1
    before = text[max(sentence_start, hit.start - 70) : hit.start]
    # Keep "Contact: x" and "Tel: x" labels in view; only sentence punctuation ends the window.
    if text[sentence_start - 1 : sentence_start] == ":":
        label_start = max(text.rfind(ch, 0, sentence_start - 1) for ch in ".!?\n") + 1
        before = text[label_start : hit.start]
    found = _last_cue(before)
    if found != "unknown":
        return found
    after = _CLAUSE_END.split(text[hit.end : hit.end + 30], maxsplit=1)[0]
    return _last_cue(after)
