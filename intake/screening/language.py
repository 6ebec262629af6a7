"""Language identification for screening (and for answering senders in their language).

`identify(text)` is a pure function: the same text always gives the same `LanguageGuess`.
How it decides, cheapest first:

1. Script. Letters are counted by Unicode script. Text mostly in a script that only one
   supported language uses here (Gurmukhi: Punjabi; Bengali: Bengali) is settled at once; a
   script no supported language uses (Ethiopic, for Tigrinya or Amharic) gives code None.
2. English function words. A Latin-script message whose words are mostly common English ones
   is English without running a detector (most messages; about 20 µs).
3. Romanised South Asian languages. People text Urdu, Punjabi and Bengali in Latin letters
   ("mujhe madad chahiye", "amar baba"), which statistical detectors trained on native script
   do not know. Function words of each (data/languages.toml) decide when at least
   `MIN_HITS` of them occur and the detector has no confident European answer.
4. Otherwise lingua-language-detector (Apache-2.0; its n-gram models ship inside its wheel, so
   it runs offline), restricted to the languages in `LANGUAGES`, in low-accuracy mode: on
   SMS-length text it scored the same as high-accuracy mode here at a quarter of the time
   (about 0.3 ms a message) and a tenth of the memory (about 50 MB instead of 500 MB).

Measured per language on the labelled sets (SMS-length, first 160 characters): see
docs/clinical-safety.md and `python -m intake.screening.language_eval`.
"""

from __future__ import annotations

import re
import threading
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

MIN_WORDS = 4  # fewer letters-words than this: too short to call a language (code None)
MIN_HITS = 2  # function words needed to call a romanised South Asian language
ENGLISH_SHARE = 0.6  # share of known English words that makes Latin text English outright
MIXED_SHARE = 0.3  # English words at least this share of a non-English message: "mixed"
SAMPLE_CHARS = 400  # the detector's cost grows with length; the start of a message is enough

# Languages the detector chooses among: English, the UK's commonest community languages and
# their near neighbours (so a Czech or Slovak text is not forced into Polish). ISO 639-1 codes.
LANGUAGES = (
    "en", "cy", "pl", "ur", "pa", "bn", "ar", "ro", "es", "pt", "fr", "it", "de", "lt", "lv",
    "ru", "uk", "so", "tr", "fa", "zh", "ta", "gu", "hi", "sk", "cs", "bg", "sq", "vi", "hu",
    "el", "ga", "yo", "sw", "tl",
)
# A single script that, among LANGUAGES, only one language is written in.
_SCRIPT_LANGUAGE = {"Beng": "bn", "Guru": "pa", "Taml": "ta", "Gujr": "gu", "Grek": "el",
                    "Hang": None, "Ethi": None, "Thai": None}
_SCRIPT_OF_PREFIX = (
    ("LATIN", "Latn"), ("ARABIC", "Arab"), ("BENGALI", "Beng"), ("GURMUKHI", "Guru"),
    ("DEVANAGARI", "Deva"), ("CYRILLIC", "Cyrl"), ("ETHIOPIC", "Ethi"), ("CJK", "Hani"),
    ("HIRAGANA", "Jpan"), ("KATAKANA", "Jpan"), ("HANGUL", "Hang"), ("GREEK", "Grek"),
    ("TAMIL", "Taml"), ("GUJARATI", "Gujr"), ("THAI", "Thai"), ("HEBREW", "Hebr"),
)
_NOT_EUROPEAN = frozenset({None, "en", "tl", "yo", "sw", "ur", "hi", "so", "vi"})
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
_lock = threading.Lock()
_detector: LanguageDetector | None = None


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """What language a text is in.

    code: ISO 639-1 code ("en", "pl", "ur", "pa", "bn", "ar", "cy", ...), or None when the text
        is too short or in a language/script not in `LANGUAGES`.
    script: ISO 15924 code of the text's main script ("Latn", "Arab", "Beng", "Guru", "Cyrl",
        "Ethi", ...), or None when it has no letters.
    confidence: 0..1 (the detector's relative confidence; 1.0 when the script or English
        words settle it; 0.0 with code None).
    method: "script" | "english-words" | "romanised-words" | "script-words" | "detector" |
        "too-short".
    english_share: share of the text's words that are common English words, 0..1 (so a caller
        can tell a mostly-English message with a few foreign words from a foreign one).
    """

    code: str | None
    script: str | None
    confidence: float
    method: str
    english_share: float = 0.0

    @property
    def romanised(self) -> bool:
        """True for a language usually written in another script, here in Latin letters."""
        return self.script == "Latn" and self.code in ("ur", "pa", "bn", "ar", "hi")


@cache
def _words() -> dict[str, Any]:
    text = resources.files("intake.screening").joinpath("data", "languages.toml")
    data = tomllib.loads(text.read_text("utf-8"))
    return {
        "english": frozenset(data["english"].split()),
        "romanised": {code: frozenset(ws.split()) for code, ws in data["romanised"].items()},
        "arabic_script": {code: frozenset(ws.split())
                          for code, ws in data["arabic_script"].items()},
    }


def _script_of(ch: str) -> str | None:
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    for prefix, script in _SCRIPT_OF_PREFIX:
        if name.startswith(prefix):
            return script
    return None


def main_script(text: str) -> str | None:
    """The ISO 15924 code of the script most of the text's letters are in, or None."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            s = "Latn" if ch.isascii() else _script_of(ch)
            if s is not None:
                counts[s] = counts.get(s, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def detector() -> LanguageDetector:
    """The shared lingua detector (its models load on first use, about 0.15 s)."""
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper()))
                         for c in LANGUAGES]
                _detector = (LanguageDetectorBuilder.from_languages(*langs)
                             .with_low_accuracy_mode().build())
    return _detector


def _detect(text: str) -> tuple[str | None, float]:
    values = detector().compute_language_confidence_values(text[:SAMPLE_CHARS])
    if not values or values[0].value <= 0.0:
        return None, 0.0
    top = values[0]
    return top.language.iso_code_639_1.name.lower(), float(top.value)


def _by_words(words: list[str], lists: dict[str, frozenset[str]]) -> tuple[str, int, int] | None:
    """(code, its hits, all hits) when one list has at least MIN_HITS words and the most."""
    hits = {code: sum(w in ws for w in words) for code, ws in lists.items()}
    best = max(hits, key=hits.__getitem__)
    if hits[best] < MIN_HITS or sum(h == hits[best] for h in hits.values()) > 1:
        return None
    return best, hits[best], sum(hits.values())


def identify(text: str) -> LanguageGuess:
    """The language of `text` (see the module docstring for how). Pure and thread-safe."""
    words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    script = main_script(text)
    if script is None or len(words) < 1:
        return LanguageGuess(None, script, 0.0, "too-short")
    data = _words()
    english = data["english"]
    share = sum(w in english for w in words) / len(words)
    if script in _SCRIPT_LANGUAGE:
        code = _SCRIPT_LANGUAGE[script]
        return LanguageGuess(code, script, 1.0 if code else 0.0, "script", share)
    if len(words) < MIN_WORDS and script == "Latn" and text.isascii():
        return LanguageGuess(None, script, 0.0, "too-short", share)
    if script == "Latn":
        if share >= ENGLISH_SHARE:
            return LanguageGuess("en", script, 1.0, "english-words", share)
        code, conf = _detect(text)
        # Romanised Urdu/Punjabi/Bengali is typed without diacritics; Romanian, Polish and
        # the rest mostly with them, and the detector is sure of those.
        accented = any(not ch.isascii() and ch.isalpha() for ch in text)
        guess = _by_words(words, data["romanised"])
        if guess is not None and not accented:
            best, hits, total = guess
            if hits >= MIN_HITS + 1 or conf < 0.9 or code in _NOT_EUROPEAN:
                return LanguageGuess(best, script, round(hits / total, 3), "romanised-words",
                                     share)
        return LanguageGuess(code, script, round(conf, 3), "detector", share)
    code, conf = _detect(text)
    if code == "ur" and script == "Arab":
        guess = _by_words(words, data["arabic_script"])
        if guess is not None and guess[0] == "pa":  # Shahmukhi: Punjabi in Urdu's script
            return LanguageGuess("pa", script, round(guess[1] / guess[2], 3), "script-words",
                                 share)
    return LanguageGuess(code, script, round(conf, 3), "detector", share)


def warm_up() -> None:
    """Load the detector's models now rather than on the first non-English message."""
    identify("dzień dobry, potrzebuję pomocy")
