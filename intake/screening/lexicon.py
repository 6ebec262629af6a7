"""Load the screening data files once and compile them into matchers.

All screening knowledge lives in the TOML files under data/; this module only turns phrases
into regular expressions over normalised text, so an advocacy service can extend the lexicon
without touching code.
"""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import dataclass
from functools import partial
from importlib import resources
from typing import Any

from rapidfuzz import fuzz, process

from intake.screening.normalise import Normaliser, Vocabulary

URGENCY_RANK = {"routine": 0, "urgent": 1, "emergency": 2}
CATEGORIES = (
    "suicide_self_harm", "physical", "sexual", "psychological", "financial", "neglect",
    "self_neglect", "domestic", "modern_slavery", "discriminatory", "organisational", "child",
)

# Long, distinctive risk words worth correcting when misspelt ("sucidal", "overdoes").
FUZZY_TARGETS = (
    "suicidal", "suicide", "overdose", "overdosed", "overdosing", "paracetamol", "ibuprofen",
    "codamol", "sertraline", "diazepam", "tramadol", "morphine", "amitriptyline", "quetiapine",
    "naproxen", "strangled", "strangling", "trafficked", "trafficking", "harassing", "sexually",
    "assaulted", "molested", "hoarding", "bruises", "threatening", "humiliating", "myself",
    "tablets", "sectioned", "tribunal", "eviction", "discharged", "bleeding", "unconscious",
    "breathing", "strangling",
)
FUZZY_CUTOFF = 85.0
PREFIX_LEN = 4  # letters of a prefix word ("punch*") used to decide whether to run a section


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    category: str  # "" for a cue
    urgency: str
    regex: re.Pattern[str]
    anchors: frozenset[str] | None  # run the regex only if one is in the message; None = always
    fallback: bool = False  # counts only when no other safeguarding category is found


@dataclass(frozen=True, slots=True)
class Context:
    id: str
    effect: str  # "negate" | "cap_urgent" | "cap_category"
    window: str  # "clause" | "sentence" | "message" | "overlap"
    before: int
    after: int
    cues: re.Pattern[str] | None
    applies_to: tuple[str, ...]
    unless: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    groups: tuple[frozenset[str], ...]
    window: int
    category: str
    urgency: str


@dataclass(frozen=True, slots=True)
class Lexicon:
    normalise: Normaliser
    sections: tuple[Section, ...]
    contexts: tuple[Context, ...]
    rules: tuple[Rule, ...]
    clause_breaks: frozenset[str]
    sentence_breaks: frozenset[str]
    english: frozenset[str]
    fallback_ids: frozenset[str] = frozenset()


def _load(name: str) -> dict[str, Any]:
    data = resources.files("intake.screening").joinpath("data", name)
    return tomllib.loads(data.read_text("utf-8"))


_ALT = re.compile(r"\{([^{}]*)\}")


def _phrase_regex(phrase: str, norm: Normaliser) -> str:
    """Compile one lexicon phrase to a regex over normalised text (syntax: see lexicon.toml)."""
    # Expand {a|b} alternatives first, so each alternative is normalised like a message.
    m = _ALT.search(phrase)
    if m:
        head, tail = phrase[: m.start()], phrase[m.end() :]
        alts = [a.strip() for a in m.group(1).split("|")]
        inner = "|".join(
            _phrase_regex(f"{head} {a} {tail}".strip(), norm) for a in alts if a or head or tail
        )
        return f"(?:{inner})"
    parts: list[str] = []
    for raw in phrase.split():
        if raw == "*":
            parts.append(r"(?:[^ .,]+ ){0,4}")
            continue
        prefix = raw.endswith("*")
        word = raw.rstrip("*")
        words = norm(word).words or (word,)
        pieces = []
        for i, w in enumerate(words):
            if w == "to":
                piece = "(?:to|2)"
            elif w == "for":
                piece = "(?:for|4)"
            else:
                piece = re.escape(w)
            if prefix and i == len(words) - 1:
                piece += r"[^ ]*"
            pieces.append(piece)
        parts.append(" ".join(pieces) + " ")
    body = "".join(parts).rstrip(" ")
    body = body.removesuffix(r"(?:[^ .,]+ ){0,4}")
    return body


def _alternation(phrases: list[str], patterns: list[str], norm: Normaliser) -> re.Pattern[str]:
    bodies = sorted({_phrase_regex(p, norm) for p in phrases}, key=len, reverse=True)
    bodies += patterns
    return re.compile(r"(?<![^ ])(?:" + "|".join(bodies) + r")(?![^ ])")


def _phrase_anchors(phrase: str, norm: Normaliser) -> set[str] | None:
    """Words of which at least one must occur wherever `phrase` matches, or None if unknown.

    A literal word is one such word (the longest is the rarest). Failing that, one word from
    every alternative of an {a|b|c} group: whichever alternative matched left its word. A
    prefix word ("punch*") gives its first letters marked with "*" (PREFIX_LEN of them, which
    every word it matches shares), so a section with prefixes can still be skipped.
    """
    def usable(word: str) -> list[str]:
        # "to"/"for" also match "2"/"4": not anchors.
        if word.endswith("*"):
            words = norm(word.rstrip("*")).words
            if words and len(words[-1]) >= PREFIX_LEN:
                return [words[-1][:PREFIX_LEN] + "*"]
            return []
        return [x for x in norm(word).words if x not in ("to", "for")]

    literal = [x for w in _ALT.sub(" ", phrase).split() for x in usable(w)]
    if literal:
        whole = [x for x in literal if not x.endswith("*")]
        return {max(whole or literal, key=len)}
    for group in _ALT.findall(phrase):
        words: set[str] = set()
        for alt in group.split("|"):
            found = [x for w in alt.split() for x in usable(w)]
            if not found:
                break
            words.add(max(found, key=len))
        else:
            return words
    return None


def _anchors(
    phrases: list[str], patterns: list[str], norm: Normaliser, declared: list[str] | None = None
) -> frozenset[str] | None:
    """Words of which one must be in the message for the section to match, or None (always run).

    A cheap set test on the message's words then skips most sections' regexes. Raw patterns
    cannot be read for words, so a section with patterns runs always unless its data file
    declares `anchors` (words every pattern needs).
    """
    anchors: set[str] = set()
    if patterns:
        if not declared:
            return None
        anchors.update(declared)  # as written: "#digit" stands for any word with a digit
    for p in phrases:
        found = _phrase_anchors(p, norm)
        if found is None:
            return None
        anchors |= found
    return frozenset(anchors)


def _lexicon_words(lex: dict[str, Any]) -> set[str]:
    words: set[str] = set()
    for sec in lex["section"]:
        if sec["id"].startswith("other_language"):
            continue
        for p in sec.get("phrases", []):
            for w in re.split(r"[\s{}|*\-']+", p.lower()):
                if w.isalpha():
                    words.add(w)
    return words


def _fuzzy(word: str, targets: tuple[str, ...]) -> str | None:
    hit = process.extractOne(word, targets, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
    return hit[0] if hit else None


def build() -> Lexicon:
    """Read and compile every data file. Call once; see `get()`."""
    lex = _load("lexicon.toml")
    rules = _load("rules.toml")
    textspeak: dict[str, str] = _load("textspeak.toml")["words"]
    english = frozenset(_load("words.toml")["english"]["known"].split())
    known = set(english) | _lexicon_words(lex) | set(textspeak)
    for value in textspeak.values():
        known.update(value.split())
    # Lexicon phrases are normalised without fuzzy correction, so they stay as written.
    plain = Normaliser(Vocabulary(textspeak, frozenset(known), lambda _w: None))
    norm = Normaliser(
        Vocabulary(textspeak, frozenset(known), partial(_fuzzy, targets=FUZZY_TARGETS))
    )
    sections = tuple(
        Section(
            id=s["id"],
            category=s.get("category", ""),
            urgency=s.get("urgency", "routine"),
            regex=_alternation(s.get("phrases", []), s.get("patterns", []), plain),
            anchors=_anchors(s.get("phrases", []), s.get("patterns", []), plain,
                             s.get("anchors")),
            fallback=bool(s.get("fallback", False)),
        )
        for s in lex["section"]
    )
    contexts = []
    for c in rules["context"]:
        cue_list = c.get("cues") or c.get("phrases") or []
        contexts.append(
            Context(
                id=c["id"],
                effect=c["effect"],
                window=c["window"],
                before=int(c.get("before", 0)),
                after=int(c.get("after", 0)),
                cues=_alternation(cue_list, [], plain) if cue_list else None,
                applies_to=tuple(c.get("applies_to", ())),
                unless=_alternation(c["unless"], [], plain) if c.get("unless") else None,
            )
        )
    rule_objs = tuple(
        Rule(
            id=r["id"],
            groups=tuple(frozenset(g) for g in r["all"]),
            window=int(r["window"]),
            category=r.get("category", ""),
            urgency=r["urgency"],
        )
        for r in rules["rule"]
    )
    scope = rules["scope"]
    return Lexicon(
        normalise=norm,
        sections=sections,
        contexts=tuple(contexts),
        rules=rule_objs,
        clause_breaks=frozenset(" ".join(plain(w).words) for w in scope["clause_breaks"]),
        sentence_breaks=frozenset(" ".join(plain(w).words) for w in scope["sentence_breaks"]),
        english=english,
        fallback_ids=frozenset(s.id for s in sections if s.fallback),
    )


_lock = threading.Lock()
_cached: Lexicon | None = None


def get() -> Lexicon:
    """The compiled lexicon, built on first use and shared (thread-safe)."""
    global _cached
    if _cached is None:
        with _lock:
            if _cached is None:
                _cached = build()
    return _cached
