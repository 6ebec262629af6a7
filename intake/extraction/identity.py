"""Who the message is about: names, date of birth, NHS number, and whose referral it is.

Names are only taken from phrasings that say whose name it is ("my name is", "my dad Peter
Walsh", "referral for Mr Arthur Bell", "Tyler Grant (14)"); a capitalised word on its own is
too often a ward, a street or the start of a sentence.
"""

from __future__ import annotations

from datetime import date

from intake.extraction import linear
from intake.extraction.vocab import compiled, load, score, weighted_table

_MONTH_NAMES = "jan feb mar apr may jun jul aug sep oct nov dec"
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES.split(" "), start=1)}
_DOB_CUE = r"(?:\bdob\b|\bd\.o\.b\.?|date of birth|\bborn(?: on)?)\s*[:\-]?\s*"
_NUMERIC_DATE = linear.compile(
    _DOB_CUE + r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b", linear.IGNORECASE
)
_WORD_DATE = linear.compile(
    _DOB_CUE + r"(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b", linear.IGNORECASE
)
_US_WORD_DATE = linear.compile(
    _DOB_CUE + r"([A-Za-z]{3,9})\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", linear.IGNORECASE
)
# Ten digits (3-3-4), not preceded by a digit or "+" nor followed by a digit (`linear.spans`).
_NHS = linear.compile(r"(?:^|[^\d+])(?P<number>\d{3}[ -]?\d{3}[ -]?\d{4})(?:[^\d]|$)")
_NHS_CUE = linear.compile(r"\bnhs\b[^\d\n]{0,15}$", linear.IGNORECASE)
_TEN_DIGITS = linear.compile(r"\d{10}")
_SPACED_NHS = linear.compile(r"\d{3}[ -]\d{3}[ -]\d{4}")
_NOT_DIGIT = linear.compile(r"\D")

# A capitalised word in any alphabet with upper and lower case: Siân, Zoë, Łukasz, Ciarán,
# O'Neill, McDonald, Anne-Marie. At least one lower-case letter follows the capital, so "NHS" and
# "IMHA" are not names.
_LOWER = r"[\p{Ll}\p{M}]"
_NAME_WORD = rf"\p{{Lu}}(?:{_LOWER}|['’-]\p{{Lu}}?{_LOWER}|\p{{Lu}}{_LOWER})+"
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx)\.?"
NAME = rf"(?:{_TITLE}[ \t]+)?{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}}"
# A name that runs straight on into a letter, mark or digit was cut short: not to be trusted.
_RUNS_ON = linear.compile(r"^[\p{L}\p{M}\p{N}]")
# How sure a name is, by the words that introduced it (strong) or only its shape (weak);
# `intake.extraction.questions` treats a field under 0.5 as missing, so a weak one is checked.
STRONG, FAIR, WEAK, UNSURE = 0.75, 0.6, 0.45, 0.3


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
    if not _TEN_DIGITS.fullmatch(digits):
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def find_nhs_number(text: str) -> str | None:
    """A checksum-valid NHS number, labelled "NHS" or written in the 3-3-4 layout."""
    for start, end in linear.spans(_NHS, "number", text):
        written = text[start:end]
        digits = _NOT_DIGIT.sub("", written)
        labelled = bool(_NHS_CUE.search(text[max(0, start - 25) : start]))
        spaced = bool(_SPACED_NHS.fullmatch(written))
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
    titled = bool(linear.fullmatch(_TITLE, kept[0]))
    first_real = kept[1] if titled and len(kept) > 1 else kept[0]
    if first_real in names["not_first_names"]:
        return None
    if titled:
        if len(kept) == 1:
            return None
        if len(kept) >= 3:
            kept = kept[1:]
    return " ".join(kept)


def _first_name_match(
    text: str, patterns: list[tuple[str, float]]
) -> tuple[str, float] | None:
    """The earliest name any pattern finds, with the confidence its pattern gives (lowered to
    `UNSURE` when the name runs on into more letters: something cut it short)."""
    best: tuple[int, str, float] | None = None
    for pattern, confidence in patterns:
        for match in compiled(pattern, 0).finditer(text):
            name = clean_name(match.group("name"))
            if name and (best is None or match.start("name") < best[0]):
                end = match.end("name")
                if _RUNS_ON.match(text[end : end + 1]):
                    confidence = min(confidence, UNSURE)
                best = (match.start("name"), name, confidence)
                break
    return (best[1], best[2]) if best else None


def kin_words() -> str:
    """Alternation of kinship words, longest first so "father in law" beats "father"."""
    words = sorted(load("relationships")["subject_terms"], key=len, reverse=True)
    return "|".join(linear.escape(w) for w in words)


def sender_name(body: str) -> str | None:
    """The sender's own name, from a self-introduction or an SMS sign-off."""
    found = sender_name_found(body)
    return found[0] if found else None


def sender_name_found(body: str) -> tuple[str, float] | None:
    """The sender's own name and how sure it is (`STRONG`, `FAIR`, `WEAK`, `UNSURE`)."""
    patterns = [
        (rf"(?i:\bmy name(?:'s| is))[ \t]+(?P<name>{NAME})", STRONG),
        (
            rf"(?i:\b(?:this is|it'?s|i'?m|i am))[ \t]+(?P<name>(?:Dr\.?[ \t]+)?{NAME})"
            r"[ \t]*(?:[,.!]|$|(?i:from|calling|here|and)\b)",
            FAIR,
        ),
        (
            rf"(?:^|[.!?\n][ \t]*|[-–][ \t]*)(?P<name>{_NAME_WORD})"
            r"[ \t]*(?:x+)?[ \t]*(?:\+?[\d ]{10,14})?[ \t]*$",
            WEAK,
        ),
    ]
    return _first_name_match(body.strip(), patterns)


def subject_name(body: str) -> str | None:
    """The name of the person a third-party referral is about."""
    found = subject_name_found(body)
    return found[0] if found else None


def subject_name_found(body: str) -> tuple[str, float] | None:
    """The subject's name and how sure it is (`STRONG`, `WEAK`, `UNSURE`)."""
    kin = kin_words()
    patterns = [
        (rf"(?i:\b(?:my|our)[ \t]+(?:{kin})),?[ \t]+(?P<name>{NAME})", STRONG),
        (
            r"(?i:\b(?:referral for|refer|referring|requesting an? \w+ for|visit"
            r"|(?:imca|imha|advocate) for|patient:|name:|name is|called|client,|tenants?,"
            r"|pupils?,|residents?,|young (?:man|woman|person),))"
            rf"[ \t]+(?P<name>{NAME})",
            STRONG,
        ),
        (rf"(?i:\b(?:dad|mum|mam|mother|father|son|daughter) is)[ \t]+(?P<name>{NAME})", STRONG),
        (rf"(?P<name>{NAME}),?[ \t]*\(?(?:aged[ \t]+)?\d{{1,3}}\)?,?[ \t]", WEAK),
        (rf"(?P<name>{_TITLE}[ \t]+{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})", WEAK),
    ]
    return _first_name_match(body, patterns)


def referral_scores(body: str) -> tuple[float, float]:
    """(self, other) evidence for who needs help."""
    self_score = score(body, weighted_table("referral", "self"))
    other_score = score(body, weighted_table("referral", "other"))
    kin = kin_words()
    if compiled(
        rf"\b(?:my|our)\s+(?:{kin})(?:'?s)?\b(?P<unless>\s+(?:number|phone|mobile|landline))?"
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
    words = "|".join(sorted((linear.escape(w) for w in terms), key=len, reverse=True))
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
        rf"\b(?:my|our)\s+({kin_words()})(?:'?s)?\b(?P<unless>\s+(?:number|phone|mobile))?"
    ).search(body)
    if match:
        return str(terms[" ".join(match.group(1).lower().split())])
    return None


def sender_intro(body: str) -> str:
    """The phrases in which the sender introduces themself, where a professional role appears."""
    pattern = compiled(
        r"\b(?:i'?m|i am)\s+(?:a|an|the|one of the)\s+[^.!?\n]{0,60}"
        r"|\b(?:this is|it'?s)\s+(?:dr\.?\s+)?\w+(?:\s+\w+)?\s+from\s+[^.!?\n]{0,40}"
        r"|\bi (?:work|manage)\b[^.!?\n]{0,60}"
    )
    return "\n".join(m.group(0) for m in pattern.finditer(body))
