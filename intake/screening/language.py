"""Language check: the lexicon is English, so other languages go to a person, not to routine.

langdetect is slow (milliseconds) and unreliable on short text, so it only runs when the text
is long enough and few of its words are English; it is seeded so results are reproducible.
"""

from __future__ import annotations

import re
import threading
import tomllib
from functools import cache
from importlib import resources

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

MIN_WORDS = 4
ENGLISH_SHARE = 0.6  # below this share of known English words, run the detector
MIXED_SHARE = 0.3  # a second language at least this likely makes the text "mixed"
SAMPLE_CHARS = 300  # detection cost grows with length; the start of a message is enough
_FOREIGN_LETTERS = re.compile(r"[ąęłśżźćńășțşţîâãõñçéèêëïüöäėįųūčšžőűæøåßğ]")
_lock = threading.Lock()
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)


@cache
def _function_words() -> tuple[int, frozenset[str], dict[str, frozenset[str]]]:
    data = tomllib.loads(
        resources.files("intake.screening").joinpath("data", "languages.toml").read_text("utf-8")
    )
    other = {code: frozenset(words.split()) for code, words in data["other"].items()}
    return int(data["min_hits"]), frozenset(data["english"].split()), other


def quick_guess(text: str) -> str | None:
    """A language code from function words alone, or None when they do not settle it.

    Cheap (one regex and set lookups), so the slow detector only sees unclear messages.
    """
    min_hits, english, other = _function_words()
    words = _WORD.findall(text.lower())
    counts = {code: sum(w in ws for w in words) for code, ws in other.items()}
    best = max(counts, key=counts.__getitem__)
    foreign = counts[best]
    if foreign >= min_hits and sum(c == foreign for c in counts.values()) == 1:
        return best
    if foreign == 0 and sum(w in english for w in words) >= min_hits:
        return "en"
    return None


def detect(text: str, alpha_words: int, known_words: int) -> tuple[str | None, str | None]:
    """Return (language code or None, review reason or None)."""
    if alpha_words < MIN_WORDS:
        return None, None
    share = known_words / alpha_words
    foreign = _FOREIGN_LETTERS.search(text.lower()) is not None
    if share >= ENGLISH_SHARE and not foreign:
        return "en", None
    guess = quick_guess(text)
    if guess == "en" and not foreign:
        return "en", None
    if guess is not None and guess != "en" and share < MIXED_SHARE:
        return guess, f"non-English text (detected: {guess})"
    with _lock:  # langdetect keeps global state; the seed makes it deterministic
        DetectorFactory.seed = 0
        try:
            langs = detect_langs(text[:SAMPLE_CHARS])
        except LangDetectException:
            return None, "language could not be detected"
    if not langs:
        return None, "language could not be detected"
    top = langs[0]
    if top.lang != "en":
        if top.prob < 0.5 and share >= ENGLISH_SHARE:
            return "en", None
        return top.lang, f"non-English text (detected: {top.lang})"
    others = [x for x in langs[1:] if x.prob >= MIXED_SHARE]
    if others:
        return "en", f"mixed-language text (detected: en+{others[0].lang})"
    return "en", None
