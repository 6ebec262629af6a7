"""Consent, safety, contact preference, interpreter and accessibility needs.

These decide how (and whether) intake may reply, so negations matter more than elsewhere:
"please don't ring, text only" is a preference for SMS, while "do not text back" means the
person must not be contacted at all (``safe_to_contact`` false).
"""

from __future__ import annotations

from functools import cache
from typing import Any

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
    """A language other than English that the person speaks or needs an interpreter for.

    Returns its canonical English name ("Polish", "British Sign Language"), or
    `[interpreter] unstated` when an interpreter is needed but no language can be told.
    A language counts when a sentence names it (in English or in its own words: "po polsku",
    "اردو") beside a cue (speaks, interpreter, "in"); a need said in one's own language
    ("potrzebuję tłumacza", "مترجم چاہیے") with no language named is for the language the
    message is written in. A sentence saying no interpreter is needed, or that the person also
    speaks English, counts for nothing. Vocabulary: data/languages.toml.
    Each sentence costs one search unless it has a cue (every list is one RE2 alternation), so
    a message of thousands of short sentences stays linear.
    """
    spec = load("languages")["interpreter"]
    cue = _alternation((load("languages")["cues"], *spec["cues"], *spec["needed"]))
    needed = False
    for sentence in _sentences(body):
        if not cue.search(sentence) or _alternation(tuple(spec["not_needed"])).search(sentence):
            continue
        needed = needed or _alternation(tuple(spec["needed"])).search(sentence) is not None
        named = _named_language(sentence)
        if named:
            return named
    if not needed:
        return None
    return _written_in(body, load("languages")) or str(spec["unstated"])


@cache
def _alternation(patterns: tuple[str, ...]) -> linear.Pattern:
    """One case-insensitive RE2 pattern matching where any of `patterns` does."""
    return compiled("|".join(f"(?:{p})" for p in patterns))


@cache
def _languages_pattern() -> tuple[linear.Pattern, dict[str, str]]:
    """Every spelling of every language in one alternation, a named group per language (its
    leftmost match is the language named first), and group name -> canonical name."""
    data = load("languages")
    exact = set(data["interpreter"]["exact_case"])
    spellings: dict[str, list[str]] = {}
    for canonical, names in data["names"].items():
        for name in names:
            literal = rf"\b{linear.escape(name)}\b"
            spellings.setdefault(canonical, []).append(
                f"(?-i:{literal})" if name in exact else literal
            )
    for canonical, patterns in data["spoken"].items():
        spellings.setdefault(canonical, []).extend(patterns)
    groups = {f"lang{i}": str(c) for i, c in enumerate(spellings)}
    alternatives = (
        f"(?P<{group}>{'|'.join(f'(?:{p})' for p in spellings[canonical])})"
        for group, canonical in groups.items()
    )
    return compiled("|".join(alternatives)), groups


def _named_language(sentence: str) -> str | None:
    """The canonical name of the language named first in `sentence`, or None."""
    pattern, groups = _languages_pattern()
    match = pattern.search(sentence)
    if match is None:
        return None
    return next(groups[g] for g, text in match.groupdict().items() if text is not None)


def _written_in(body: str, data: dict[str, Any]) -> str | None:
    """The canonical name of the (non-English) language `body` is written in, when intake's
    language identification can tell it and the vocabulary has a name for it."""
    # Imported here: screening loads its language detector lazily, and most messages never
    # get this far (no interpreter word without a language named).
    from intake.screening.language import identify

    code = identify(body).code
    if not code or code == "en":
        return None
    for canonical, iso in data["codes"].items():
        if iso == code:
            return str(canonical)
    return None


def accessibility_needs(body: str) -> list[str]:
    """Canonical accessibility needs (["bsl", "large print"]) in vocabulary order.

    A need is found when one of its cues occurs, or when each cue list of its `[together]`
    entry has a cue somewhere in `body` ("I'm Deaf" ... "please don't ring": text only).
    Vocabulary: data/accessibility.toml (the Accessible Information Standard's needs).
    """
    table: dict[str, Any] = load("accessibility")
    together: dict[str, dict[str, list[str]]] = table.get("together", {})
    found = []
    for need, patterns in table.items():
        if not isinstance(patterns, list):
            continue
        groups = together.get(need)
        if _any(patterns, body) or (groups and all(_any(g, body) for g in groups.values())):
            found.append(need)
    return found


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
