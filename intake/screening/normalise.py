"""Normalise free text for matching while keeping a map back to the original offsets.

People write risk in text-speak, with repeated letters and no punctuation; the lexicon is
written once in plain English. Normalising both sides the same way lets one phrase cover many
spellings, and the offset map lets every match point at exactly what the person typed.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass


def _mark_class() -> str:
    """A regex class body of every combining mark (Mn, Mc, Me): Bengali, Gurmukhi and
    Devanagari write vowels with them, and a word must not be cut at each vowel sign."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x300, 0x10000):  # the scripts of UK community languages are all here
        if unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                   for a, b in ranges)


MARKS = _mark_class()
# A word: letters or digits with the combining marks that belong to them, apostrophes inside.
WORD = rf"[^\W_](?:[^\W_]|[{MARKS}])*"
_TOKEN = re.compile(rf"[^\W_](?:[^\W_]|[{MARKS}])*(?:['’](?:[^\W_]|[{MARKS}])+)*|[.!?;]+|\S",
                    re.UNICODE)


def _latin_fold_table() -> dict[int, str]:
    """Latin letters with diacritics -> plain letters ("ś" -> "s", "ł" -> "l", "ș" -> "s").

    People text Polish, Romanian, Welsh and Portuguese without their diacritics as often as
    with them; folding both the message and the word lists makes either spelling match.
    Other scripts are untouched (their marks are letters' vowels, not decoration).
    """
    table: dict[int, str] = {}
    for cp in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        ch = chr(cp)
        base = unicodedata.normalize("NFKD", ch)[0]
        if base.isascii() and base.isalpha() and base != ch:
            table[cp] = base
    table.update({ord("ł"): "l", ord("Ł"): "L", ord("ø"): "o", ord("Ø"): "O", ord("ß"): "ss",
                  ord("æ"): "ae", ord("œ"): "oe", ord("đ"): "d", ord("ı"): "i"})
    return table


_FOLD = _latin_fold_table()


def fold_latin(text: str) -> str:
    """`text` with Latin diacritics removed (see `_latin_fold_table`); ASCII is returned as is."""
    return text if text.isascii() else text.translate(_FOLD)
_REPEAT3 = re.compile(r"([^\W\d_])\1{2,}")
_DOUBLE = re.compile(r"([^\W\d_])\1")
_NUM_UNIT = re.compile(r"^(\d+)(mg|g|ml|x|mcg|grams|hr|hrs|h|am|pm|mins|min)$")
# Digits typed for letters ("ov3rdosed", "k1ll", "su1cide"): decoded only when the result is a
# known word or corrects to a risk word, so "4am" or "b12" stay as typed.
_LEET = str.maketrans("013457", "oieast")
_HAS_DIGIT = re.compile(r"\d")
_SENTENCE_PUNCT = frozenset(".!?;")
# Voicemail transcripts and hurried texts carry hesitations that split a phrase in two
# ("i've um taken all my er tablets"): they are dropped, like a repeated word ("i i want to").
_FILLERS = frozenset({"um", "umm", "ummm", "erm", "er", "err", "uh", "uhh", "uhm", "hmm", "mm",
                      "mmm", "ah"})
_KEEP_PUNCT = frozenset(",/")


@dataclass(frozen=True, slots=True)
class NormText:
    """Normalised words joined by single spaces, with a map back to the original offsets.

    Offsets are kept per word, not per character: building per-character tables cost more
    than matching, and only the few matched spans are ever mapped back.
    """

    text: str
    token_starts: tuple[int, ...]  # index in `text` where each normalised word begins
    words: tuple[str, ...]
    alpha_tokens: int  # original alphabetic words (for the language check)
    known_tokens: int  # ... of which are English, text-speak or lexicon words
    fuzzy: tuple[tuple[int, str, str], ...]  # (word index, typed, corrected)
    origins: tuple[tuple[int, int, bool], ...] = ()  # per word: original start, end, typed as is

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalised text to the original text.

        Spans start and end on word boundaries (the matcher guarantees it); a word typed as
        is maps character for character, a replaced word ("kms") maps to the whole token.
        """
        ts = self.token_starts
        i = bisect_right(ts, start) - 1
        j = bisect_right(ts, end - 1) - 1
        s0, _e0, exact0 = self.origins[i]
        s1, e1, exact1 = self.origins[j]
        a = s0 + (start - ts[i]) if exact0 else s0
        b = s1 + (end - ts[j]) if exact1 else e1
        return a, b


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """What the normaliser needs to know: text-speak, known words, fuzzy targets."""

    textspeak: Mapping[str, str]
    known: frozenset[str]  # English + lexicon + text-speak words: never fuzzily corrected
    fuzzy: Callable[[str], str | None]  # misspelt word -> corrected word, or None


def _word_forms(raw: str, vocab: Vocabulary) -> tuple[str, bool, str | None]:
    """Return (replacement words, is-known-English, fuzzy-corrected-from) for one typed word.

    Pure and cheap to cache: the same words recur across thousands of messages.
    """
    low = fold_latin(raw.lower().replace("’", "'"))
    ts = vocab.textspeak
    if low in ts:
        return ts[low], True, None
    flat = low.replace("'", "")
    if flat in ts:
        return ts[flat], True, None
    m = _NUM_UNIT.match(flat)
    if m:
        return f"{m.group(1)} {m.group(2)}", True, None
    if _HAS_DIGIT.search(flat) and not flat.isdigit():
        decoded = flat.translate(_LEET)
        if decoded.isalpha():
            forms = _word_forms(decoded, vocab)
            if forms[1]:
                return forms[0], True, forms[2] or flat
    word = _REPEAT3.sub(r"\1\1", flat)
    if word in ts:
        return ts[word], True, None
    if word in vocab.known:
        return word, True, None
    if low.endswith("'s") and low[:-2] in vocab.known:
        # "the rope's in the loft": "'s" after a known word that has no plural form of its
        # own in the vocabulary is "is" (a possessive such as "mum's" stays "mums", a word).
        return low[:-2] + " is", True, None
    single = _DOUBLE.sub(r"\1", word)
    if single != word and (single in vocab.known or single in ts):
        return ts.get(single, single), True, None
    if len(word) >= 6 and word.isalpha():
        corrected = vocab.fuzzy(word)
        if corrected is not None:
            return corrected, True, word
    return word, False, None


class Normaliser:
    """Turns text into a NormText. Holds a per-word cache; safe to share between threads."""

    def __init__(self, vocab: Vocabulary, cache_size: int = 100_000) -> None:
        self._vocab = vocab
        self._cache: dict[str, tuple[str, bool, str | None]] = {}
        self._cache_size = cache_size

    def _word(self, raw: str) -> tuple[str, bool, str | None]:
        hit = self._cache.get(raw)
        if hit is None:
            hit = _word_forms(raw, self._vocab)
            if len(self._cache) < self._cache_size:
                self._cache[raw] = hit  # dict assignment is atomic under the GIL
        return hit

    def __call__(self, text: str) -> NormText:
        out: list[str] = []
        token_starts: list[int] = []
        words: list[str] = []
        origins: list[tuple[int, int, bool]] = []
        fuzzy: list[tuple[int, str, str]] = []
        alpha = known = 0
        pos = 0
        ts = self._vocab.textspeak
        word = self._word
        for m in _TOKEN.finditer(text):
            tok = m.group()
            s, e = m.span()
            first = tok[0]
            if first.isalnum():
                repl, is_known, typo = word(tok)
                if repl in _FILLERS or (words and repl == words[-1] and repl.isalpha()):
                    alpha += 1
                    known += 1
                    continue
                if first.isalpha():
                    alpha += 1
                    known += is_known
                if typo is not None:
                    fuzzy.append((len(words), typo, repl))
            elif first in _SENTENCE_PUNCT:
                repl = "."
            elif first in _KEEP_PUNCT:
                repl = first
            else:
                repl = ts.get(tok)
                if repl is None:
                    continue
            if " " in repl:
                pieces = repl.split(" ")
                exact = False
            else:
                pieces = (repl,)
                exact = len(repl) == e - s and repl == tok.lower()
            for piece in pieces:
                if out:
                    pos += 1
                token_starts.append(pos)
                words.append(piece)
                out.append(piece)
                origins.append((s, e, exact))
                pos += len(piece)
        return NormText(
            text=" ".join(out),
            token_starts=tuple(token_starts),
            words=tuple(words),
            alpha_tokens=alpha,
            known_tokens=known,
            fuzzy=tuple(fuzzy),
            origins=tuple(origins),
        )
