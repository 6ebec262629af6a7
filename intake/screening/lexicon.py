"""Load the screening data files once and compile them into matchers.

All screening knowledge lives in the TOML files under data/; this module only turns phrases
into one word trie over normalised text (`intake.screening.matcher`), so an advocacy service can
extend the lexicon without touching code. Building it takes a fraction of a second; web and
worker processes keep what it built in a cache file (`intake.screening.cache`).
"""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import dataclass, field
from functools import cache, partial
from importlib import resources
from typing import Any

from rapidfuzz import fuzz, process

from intake.screening import cache as compiled_cache
from intake.screening.matcher import Trie
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


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    category: str  # "" for a cue
    urgency: str
    patterns: re.Pattern[str] | None  # raw regexes (numbers), matched on the normalised text
    anchors: frozenset[str] | None  # run `patterns` only if one is in the message; None = always
    fallback: bool = False  # counts only when no other safeguarding category is found
    language: str = "en"  # the language of its phrases ("pl" for lexicon.pl.toml)
    firm: bool = False  # the model never lowers a result below this section's urgency


@dataclass(frozen=True, slots=True)
class Context:
    id: str
    effect: str  # "negate" | "cap_urgent" | "cap_category"
    window: str  # "clause" | "sentence" | "message" | "overlap"
    before: int
    after: int
    cues: int | None  # trie label of the cue phrases, None if the context has none
    applies_to: tuple[str, ...]
    unless: int | None  # trie label of the "unless" phrases


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    groups: tuple[frozenset[str], ...]
    window: int
    category: str
    urgency: str
    # Rules whose finding wins over this one's when the two share a phrase: "staff at the care
    # home restrain my dad" is abuse by a service, not by the family the word "dad" names.
    yields_to: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Everything the engine needs, compiled. Trie labels 0..len(sections)-1 are the sections'
    phrases (label = index in `sections`); contexts' cue and unless lists follow."""

    normalise: Normaliser
    sections: tuple[Section, ...]
    contexts: tuple[Context, ...]
    rules: tuple[Rule, ...]
    clause_breaks: frozenset[str]
    sentence_breaks: frozenset[str]
    english: frozenset[str]
    trie: Trie
    languages: frozenset[str] = frozenset({"en"})  # those with a word list (lexicon.<code>.toml)
    fallback_ids: frozenset[str] = frozenset()
    foreign_ids: frozenset[str] = frozenset()  # sections of another language's word list
    firm_ids: frozenset[str] = frozenset()  # rules and sections (firm = true) never lowered
    # id -> the urgency a firm rule or section holds a result at, whatever the model says
    firm_urgency: dict[str, str] = field(default_factory=dict)
    # indexes of the sections with `patterns`: the only ones the engine visits when the trie
    # found none of their phrases
    pattern_labels: frozenset[int] = frozenset()


@cache
def _load(name: str) -> dict[str, Any]:
    data = resources.files("intake.screening").joinpath("data", name)
    return tomllib.loads(data.read_text("utf-8"))


def _patterns(patterns: list[str]) -> re.Pattern[str] | None:
    """Raw regexes of a section (few, short: numbers and ages), bounded by word edges."""
    if not patterns:
        return None
    return re.compile(r"(?<![^ ])(?:" + "|".join(patterns) + r")(?![^ ])")


def _extra_files() -> list[str]:
    data = resources.files("intake.screening").joinpath("data")
    return sorted(p.name for p in data.iterdir()
                  if p.name.startswith("lexicon.") and p.name.endswith(".toml")
                  and p.name != "lexicon.toml")


def _languages() -> list[str]:
    """Languages with their own word list: lexicon.<code>.toml with a two-letter code."""
    return [n.split(".")[1] for n in _extra_files() if len(n.split(".")[1]) == 2]


def _sections() -> list[dict[str, Any]]:
    """The sections of lexicon.toml, then of every `lexicon.<name>.toml` beside it (other
    languages, a service's own additions), in name order."""
    out = list(_load("lexicon.toml")["section"])
    for name in _extra_files():
        out.extend(_load(name).get("section", []))
    return out


def _compile_phrases(trie: Trie, label: int, phrases: list[str]) -> None:
    for phrase in phrases:
        trie.add(phrase, label)


def _lexicon_words(lex: dict[str, Any]) -> set[str]:
    words: set[str] = set()
    for sec in lex["section"]:
        if sec["id"].startswith("other_language") or sec.get("language", "en") != "en":
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
    lex = {"section": _sections()}
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
    sections_data = lex["section"]

    @cache
    def words_of(word: str) -> tuple[str, ...]:
        return plain(word).words

    trie = Trie(words_of)

    sections = []
    for label, s in enumerate(sections_data):
        _compile_phrases(trie, label, s.get("phrases", []))
        patterns = s.get("patterns", [])
        sections.append(Section(
            id=s["id"],
            category=s.get("category", ""),
            urgency=s.get("urgency", "routine"),
            patterns=_patterns(patterns),
            anchors=frozenset(s["anchors"]) if patterns and s.get("anchors") else None,
            fallback=bool(s.get("fallback", False)),
            language=str(s.get("language", "en")),
            firm=bool(s.get("firm", False)),
        ))
    label = len(sections)
    contexts = []
    for c in rules["context"]:
        cue_list = c.get("cues") or c.get("phrases") or []
        cues = unless = None
        if cue_list:
            cues = label
            _compile_phrases(trie, label, cue_list)
            label += 1
        if c.get("unless"):
            unless = label
            _compile_phrases(trie, label, c["unless"])
            label += 1
        contexts.append(
            Context(
                id=c["id"],
                effect=c["effect"],
                window=c["window"],
                before=int(c.get("before", 0)),
                after=int(c.get("after", 0)),
                cues=cues,
                applies_to=tuple(c.get("applies_to", ())),
                unless=unless,
            )
        )
    rule_objs = tuple(
        Rule(
            id=r["id"],
            groups=tuple(frozenset(g) for g in r["all"]),
            window=int(r["window"]),
            category=r.get("category", ""),
            urgency=r["urgency"],
            yields_to=tuple(r.get("yields_to", ())),
        )
        for r in [*rules["rule"], *(r for n in _extra_files() for r in _load(n).get("rule", []))]
    )
    scope = rules["scope"]
    firm = {r["id"]: r["urgency"] for r in rules["rule"] if r.get("firm")}
    firm.update((s.id, s.urgency) for s in sections if s.firm)
    return Lexicon(
        normalise=norm,
        sections=sections,
        contexts=tuple(contexts),
        rules=rule_objs,
        clause_breaks=frozenset(" ".join(plain(w).words) for w in scope["clause_breaks"]),
        sentence_breaks=frozenset(" ".join(plain(w).words) for w in scope["sentence_breaks"]),
        english=english,
        trie=trie,
        languages=frozenset({"en", *_languages()}),
        fallback_ids=frozenset(s.id for s in sections if s.fallback),
        foreign_ids=frozenset(s.id for s in sections if s.language != "en"),
        firm_ids=frozenset(firm),
        firm_urgency=firm,
        pattern_labels=frozenset(i for i, s in enumerate(sections) if s.patterns is not None),
    )


_lock = threading.Lock()
_cached: Lexicon | None = None


def get() -> Lexicon:
    """The compiled lexicon, built on first use and shared (thread-safe)."""
    global _cached
    if _cached is None:
        with _lock:
            if _cached is None:
                _cached = compiled_cache.load_or_build("lexicon", build)
    return _cached
