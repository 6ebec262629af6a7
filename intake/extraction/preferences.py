"""Consent, safety, contact preference, interpreter and accessibility needs.

These decide how (and whether) intake may reply, so negations matter more than elsewhere:
"please don't ring, text only" is a preference for SMS, while "do not text back" means the
person must not be contacted at all (``safe_to_contact`` false).
"""

from __future__ import annotations

from intake.extraction import linear
from intake.extraction.vocab import compiled, load


def _any(patterns: list[str], text: str) -> bool:
    return any(compiled(p).search(text) for p in patterns)


_SENTENCE_BREAK = linear.compile(r"[.!?;\n](?P<gap>\s+)")


def _sentences(body: str) -> list[str]:
    """`body` cut after each sentence's end punctuation (or line end) and the spaces after it."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(body):
        pieces.append(body[start : match.start("gap")])
        start = match.end("gap")
    pieces.append(body[start:])
    return pieces


def consent(body: str) -> bool | None:
    """True/False when the text says whether the person agreed to the referral."""
    data = load("preferences")["consent"]
    if _any(data["false"], body):
        return False
    if _any(data["true"], body):
        return True
    return None


def safe_to_contact(body: str) -> bool | None:
    """False when replying could put the person at risk; True when the text says it is safe."""
    data = load("preferences")["safety"]
    if _any(data["unsafe"], body):
        return False
    if _any(data["safe"], body):
        return True
    return None


def sender_number_not_own(body: str) -> bool:
    """The text says the number it came from belongs to someone else."""
    return _any(load("preferences")["sender_not_own"]["patterns"], body)


def preferred_contact(body: str) -> str | None:
    """sms / phone / email / post. Negated cues rule a channel out; "only"/"best" count double."""
    data = load("preferences")["contact"]
    negation = compiled(data["negation"] + r"$")
    strong = data["strong"]
    best: tuple[float, int, str] | None = None
    for channel, patterns in data["channels"].items():
        total, first = 0.0, len(body)
        negated = False
        for pattern in patterns:
            for match in compiled(pattern).finditer(body):
                before = body[max(0, match.start() - 25) : match.start()]
                if negation.search(before):
                    negated = True
                    continue
                window = body[max(0, match.start() - 12) : match.end() + 12].lower()
                total += 2 if any(w in window for w in strong) else 1
                first = min(first, match.start())
        if negated and total == 0:
            continue
        if total and (best is None or (total, -first) > (best[0], -best[1])):
            best = (total, first, channel)
    return best[2] if best else None


def interpreter_language(body: str) -> str | None:
    """A language other than English that the person speaks or needs an interpreter for."""
    data = load("languages")
    cue = compiled(data["cues"])
    for sentence in _sentences(body):
        if not cue.search(sentence):
            continue
        for canonical, spellings in data["names"].items():
            for spelling in spellings:
                flags = 0 if spelling[0].isupper() else linear.IGNORECASE
                if compiled(rf"\b{linear.escape(spelling)}\b", flags).search(sentence):
                    return str(canonical)
    return None


def accessibility_needs(body: str) -> list[str]:
    """Canonical accessibility needs in vocabulary order."""
    table: dict[str, list[str]] = load("accessibility")
    return [need for need, patterns in table.items() if _any(patterns, body)]


def language_preference(body: str, *, answer: bool = False) -> str | None:
    """The language the person asks to be written to in: an ISO 639-1 code or "easy-read".

    `answer`: `body` is a reply to "Welsh or English?", so a bare "Cymraeg" or "English" counts
    (any line of it); otherwise only an explicit request does ("please write in Welsh", "po
    polsku prosze"). The last request in the text wins: people change their minds.
    Vocabulary: data/languages.toml [preference] (Welsh Language Standards: ask and record).
    """
    table = load("languages")["preference"]
    best: tuple[int, str] | None = None
    sections = ("reply", "stated") if answer else ("stated",)
    for section in sections:
        for code, patterns in table[section].items():
            for pattern in patterns:
                flags = linear.IGNORECASE | linear.MULTILINE
                for match in compiled(pattern, flags).finditer(body):
                    if best is None or match.start() >= best[0]:
                        best = (match.start(), str(code))
    return best[1] if best else None
