"""Who the message is about: names, date of birth, NHS number, and whose referral it is.

Names are only taken from phrasings that say whose name it is ("my name is", "my dad Peter
Walsh", "referral for Mr Arthur Bell", "Tyler Grant (14)"); a capitalised word on its own is
too often a ward, a street or the start of a sentence.
"""

from __future__ import annotations

import re
from datetime import date

from intake.extraction.vocab import compiled, load, score, weighted_table

_MONTH_NAMES = "jan feb mar apr may jun jul aug sep oct nov dec"
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES.split(" "), start=1)}
_DOB_CUE = r"(?:\bdob\b|\bd\.o\.b\.?|date of birth|\bborn(?: on)?)\s*[:\-]?\s*"
_NUMERIC_DATE = re.compile(_DOB_CUE + r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b", re.I)
_WORD_DATE = re.compile(
    _DOB_CUE + r"(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b", re.I
)
_US_WORD_DATE = re.compile(
    _DOB_CUE + r"([A-Za-z]{3,9})\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", re.I
)
_NHS = re.compile(r"(?<![\d+])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")
_NHS_CUE = re.compile(r"\bnhs\b[^\d\n]{0,15}$", re.I)

_NAME_WORD = r"[A-Z][a-z'’-]+"
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx)\.?"
NAME = rf"(?:{_TITLE}[ \t]+)?{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}}"


def _make_date(day: int, month: int, year: int, today: date) -> str | None:
    if year < 100:
        year += 1900 if year > today.year % 100 else 2000
    try:
        value = date(year, month, day)
    except ValueError:
        return None
    if value > today or value.year < 1900:
        return None
    return value.isoformat()


def find_dob(text: str, today: date | None = None) -> str | None:
    """ISO date of birth when the text labels one (DOB, date of birth, born); UK day-first."""
    today = today or date.today()
    match = _NUMERIC_DATE.search(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return _make_date(day, month, year, today)
    match = _WORD_DATE.search(text)
    if match and match.group(2)[:3].lower() in _MONTHS:
        return _make_date(
            int(match.group(1)), _MONTHS[match.group(2)[:3].lower()], int(match.group(3)), today
        )
    match = _US_WORD_DATE.search(text)
    if match and match.group(1)[:3].lower() in _MONTHS:
        return _make_date(
            int(match.group(2)), _MONTHS[match.group(1)[:3].lower()], int(match.group(3)), today
        )
    return None


def nhs_checksum_ok(digits: str) -> bool:
    """Modulus 11 check on a 10-digit NHS number (check digit 10 means invalid)."""
    if not re.fullmatch(r"\d{10}", digits):
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def find_nhs_number(text: str) -> str | None:
    """A checksum-valid NHS number, labelled "NHS" or written in the 3-3-4 layout."""
    for match in _NHS.finditer(text):
        digits = "".join(match.groups())
        labelled = bool(_NHS_CUE.search(text[max(0, match.start() - 25) : match.start()]))
        spaced = bool(re.fullmatch(r"\d{3}[ -]\d{3}[ -]\d{4}", match.group(0)))
        if (labelled or (spaced and digits[0] != "0")) and nhs_checksum_ok(digits):
            return digits
    return None


def clean_name(raw: str) -> str | None:
    """Trim a matched name: drop trailing place words, drop a title when a first name follows."""
    names = load("names")
    words = raw.split()
    kept: list[str] = []
    for word in words:
        if kept and word in names["name_stop"]:
            break
        kept.append(word)
    if not kept:
        return None
    first_real = kept[1] if re.fullmatch(_TITLE, kept[0]) and len(kept) > 1 else kept[0]
    if first_real in names["not_first_names"]:
        return None
    if re.fullmatch(_TITLE, kept[0]):
        if len(kept) == 1:
            return None
        if len(kept) >= 3:
            kept = kept[1:]
    return " ".join(kept)


def _first_name_match(text: str, patterns: list[str]) -> str | None:
    best: tuple[int, str] | None = None
    for pattern in patterns:
        for match in compiled(pattern, 0).finditer(text):
            name = clean_name(match.group("name"))
            if name and (best is None or match.start("name") < best[0]):
                best = (match.start("name"), name)
                break
    return best[1] if best else None


def kin_words() -> str:
    """Alternation of kinship words, longest first so "father in law" beats "father"."""
    words = sorted(load("relationships")["subject_terms"], key=len, reverse=True)
    return "|".join(re.escape(w) for w in words)


def sender_name(body: str) -> str | None:
    """The sender's own name, from a self-introduction or an SMS sign-off."""
    patterns = [
        rf"(?i:\bmy name(?:'s| is))[ \t]+(?P<name>{NAME})",
        rf"(?i:\b(?:this is|it'?s|i'?m|i am))[ \t]+(?P<name>(?:Dr\.?[ \t]+)?{NAME})"
        r"(?=[ \t]*(?:[,.!]|$|(?i:from|calling|here|and)\b))",
        rf"(?:^|[.!?\n][ \t]*|[-–][ \t]*)(?P<name>{_NAME_WORD})"
        r"[ \t]*(?:x+)?[ \t]*(?:\+?[\d ]{10,14})?[ \t]*$",
    ]
    return _first_name_match(body.strip(), patterns)


def subject_name(body: str) -> str | None:
    """The name of the person a third-party referral is about."""
    kin = kin_words()
    patterns = [
        rf"(?i:\b(?:my|our)[ \t]+(?:{kin})),?[ \t]+(?P<name>{NAME})",
        r"(?i:\b(?:referral for|refer|referring|requesting an? \w+ for|visit"
        r"|(?:imca|imha|advocate) for|patient:|name:|name is|called|client,|tenants?,"
        r"|pupils?,|residents?,|young (?:man|woman|person),))"
        rf"[ \t]+(?P<name>{NAME})",
        rf"(?i:\b(?:dad|mum|mam|mother|father|son|daughter) is)[ \t]+(?P<name>{NAME})",
        rf"(?P<name>{NAME}),?[ \t]*\(?(?:aged[ \t]+)?\d{{1,3}}\)?,?[ \t]",
        rf"(?P<name>{_TITLE}[ \t]+{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})",
    ]
    return _first_name_match(body, patterns)


def referral_scores(body: str) -> tuple[float, float]:
    """(self, other) evidence for who needs help."""
    self_score = score(body, weighted_table("referral", "self"))
    other_score = score(body, weighted_table("referral", "other"))
    kin = kin_words()
    if compiled(
        rf"\b(?:my|our)\s+(?:{kin})(?:'?s)?\b(?!\s+(?:number|phone|mobile|landline))"
    ).search(body):
        other_score += 2
    if compiled(rf"\b(?:i'?m|i am)\s+(?:his|her|their)\s+(?:{kin}|carer)\b").search(body):
        other_score += 3
    pronouns = len(compiled(r"\b(?:he|she|he's|she's|his|him|her|hers)\b").findall(body))
    other_score += 2 if pronouns >= 5 else 1 if pronouns >= 2 else 0
    return self_score, other_score


def self_relationship(text: str) -> str | None:
    """How the sender describes themself to the subject ("I'm her daughter", "(daughter)")."""
    terms = load("relationships")["self_terms"]
    words = "|".join(sorted((re.escape(w) for w in terms), key=len, reverse=True))
    patterns = [
        rf"\b(?:i'?m|i am)\s+(?:his|her|their)\s+({words})\b",
        rf",\s*(?:his|her|their)\s+({words})\b",
        rf"\(({words})\)",
    ]
    for pattern in patterns:
        match = compiled(pattern).search(text)
        if match:
            return str(terms[match.group(1).lower()])
    return None


def subject_relationship(body: str) -> str | None:
    """The sender's relationship implied by how they name the subject ("my mum" -> "child")."""
    terms = load("relationships")["subject_terms"]
    match = compiled(
        rf"\b(?:my|our)\s+({kin_words()})(?:'?s)?\b(?!\s+(?:number|phone|mobile))"
    ).search(body)
    if match:
        return str(terms[re.sub(r"\s+", " ", match.group(1).lower())])
    return None


def sender_intro(body: str) -> str:
    """The phrases in which the sender introduces themself, where a professional role appears."""
    pattern = compiled(
        r"\b(?:i'?m|i am)\s+(?:a|an|the|one of the)\s+[^.!?\n]{0,60}"
        r"|\b(?:this is|it'?s)\s+(?:dr\.?\s+)?\w+(?:\s+\w+)?\s+from\s+[^.!?\n]{0,40}"
        r"|\bi (?:work|manage)\b[^.!?\n]{0,60}"
    )
    return "\n".join(m.group(0) for m in pattern.finditer(body))
