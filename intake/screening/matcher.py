"""A word-level trie over every lexicon and rule phrase, matched in one pass over a message.

Why not regular expressions: the lexicon's phrases expand ({a|b} alternatives, prefixes, gaps)
into tens of thousands of alternatives; compiling them into Python `re` alternations took 3-7 s
at every process start, and a backtracking engine's cost on hostile input depends on the
pattern. A trie keyed on normalised words builds in a fraction of that time and matches in time
linear in the message: from each word the walk is bounded by the longest phrase (at most
`MAX_GAP` skipped words per `*` gap), whatever the text.

Phrase syntax (the lexicon's, see lexicon.toml): words; `word*` any word starting with
"word"; `*` up to `MAX_GAP` other words (never a full stop or comma); `{a|b|}` alternatives,
possibly empty. "to" and "for" also match "2" and "4" as texted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_GAP = 4  # words a `*` may skip
STARTERS_CACHE_MAX = 100_000  # words remembered as beginning (or not) some phrase
_PUNCT = frozenset({".", ","})
_ALIASES = {"2": "to", "4": "for"}  # texted digits for words (the regex form used (?:to|2))


@dataclass(slots=True, eq=False)
class _Node:
    words: dict[str, _Node] = field(default_factory=dict)
    prefixes: dict[str, _Node] = field(default_factory=dict)
    gap: _Node | None = None
    eps: list[_Node] = field(default_factory=list)  # joins after an {a|b} group (no word)
    labels: list[int] = field(default_factory=list)  # indexes of the phrase lists ending here


Item = tuple[str, Any]  # ("word", "text") | ("gap", None) | ("alt", [[Item, ...], ...])


def parse(phrase: str) -> list[Item]:
    """A phrase as items: words, gaps and {a|b} groups (nested groups allowed).

    Raises ValueError on unbalanced braces, naming the phrase, so a bad data file stops the
    process at start with one clear line.
    """
    toks = re.findall(r"[{}|]|[^\s{}|]+", phrase)
    pos = 0

    def seq(inside: bool) -> list[Item]:
        nonlocal pos
        items: list[Item] = []
        while pos < len(toks):
            t = toks[pos]
            if t in "|}" and inside:
                return items
            if t in "|}":
                raise ValueError(f"unbalanced braces in phrase {phrase!r}")
            pos += 1
            if t == "{":
                alts = [seq(True)]
                while pos < len(toks) and toks[pos] == "|":
                    pos += 1
                    alts.append(seq(True))
                if pos >= len(toks) or toks[pos] != "}":
                    raise ValueError(f"unbalanced braces in phrase {phrase!r}")
                pos += 1
                items.append(("alt", alts))
            elif t == "*":
                items.append(("gap", None))
            else:
                items.append(("word", t))
        if inside:
            raise ValueError(f"unbalanced braces in phrase {phrase!r}")
        return items

    items = seq(False)
    while items and items[-1][0] == "gap":  # a gap at either end matches nothing
        items.pop()
    while items and items[0][0] == "gap":
        items.pop(0)
    return items


def word_tokens(raw: str, words_of: Callable[[str], Sequence[str]]) -> list[str]:
    """A written word as trie tokens: its normalised words, the last marked "*" for a prefix."""
    prefix = raw.endswith("*")
    word = raw.rstrip("*")
    ws = list(words_of(word)) or [word]
    if prefix:
        ws[-1] += "*"
    return ws


class Trie:
    """Phrase lists compiled into one word automaton; `find` reports (label, first word,
    last word) for every match.

    It is a trie (phrases sharing their first words share nodes) with private join nodes after
    each {a|b} group, reached by epsilon edges, so a phrase costs its length to add, not the
    product of its alternatives.
    """

    def __init__(self, words_of: Callable[[str], Sequence[str]]) -> None:
        self._root = _Node()
        self._max_prefix = 0
        self._words_of: Callable[[str], Sequence[str]] | None = words_of
        self.nodes = 1
        self._starters: dict[str, bool] = {}  # word -> whether some phrase begins with it

    def __getstate__(self) -> dict[str, Any]:
        # The word normaliser is a closure used only while adding phrases: a trie read back
        # from the screening cache (`intake.screening.cache`) only matches.
        return {**self.__dict__, "_words_of": None, "_starters": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _child(self, node: _Node, tok: str) -> _Node:
        if tok.endswith("*") and len(tok) > 1:
            stem = tok[:-1]
            self._max_prefix = max(self._max_prefix, len(stem))
            table = node.prefixes
            tok = stem
        else:
            table = node.words
        nxt = table.get(tok)
        if nxt is None:
            nxt = table[tok] = _Node()
            self.nodes += 1
        return nxt

    def _insert(self, nodes: list[_Node], items: list[Item]) -> list[_Node]:
        words_of = self._words_of
        if words_of is None:
            raise RuntimeError("a trie read back from the cache takes no new phrases")
        for kind, value in items:
            if kind == "word":
                for tok in word_tokens(value, words_of):
                    nodes = list({id(n): n for n in (self._child(x, tok) for x in nodes)}
                                 .values())
            elif kind == "gap":
                out = []
                for x in nodes:
                    if x.gap is None:
                        x.gap = _Node()
                        self.nodes += 1
                    out.append(x.gap)
                nodes = out
            else:
                join = _Node()
                self.nodes += 1
                for alt in value:
                    for end in self._insert(nodes, alt):
                        if join not in end.eps:
                            end.eps.append(join)
                nodes = [join]
        return nodes

    def add(self, phrase: str, label: int) -> None:
        """Add one phrase (lexicon syntax) under `label`."""
        self._starters.clear()
        items = parse(phrase)
        if not items:
            return
        for end in self._insert([self._root], items):
            if label not in end.labels:
                end.labels.append(label)

    def _next(self, node: _Node, word: str) -> Iterable[_Node]:
        nxt = node.words.get(word)
        if nxt is not None:
            yield nxt
        alias = _ALIASES.get(word)
        if alias is not None:
            nxt = node.words.get(alias)
            if nxt is not None:
                yield nxt
        if node.prefixes:
            pre = node.prefixes
            for k in range(1, min(len(word), self._max_prefix) + 1):
                nxt = pre.get(word[:k])
                if nxt is not None:
                    yield nxt

    @staticmethod
    def _close(states: list[tuple[_Node, int]]) -> list[tuple[_Node, int]]:
        """Add what is reachable without a word: join nodes, and gaps entered (0 skipped)."""
        seen = {(id(n), k) for n, k in states}
        out = list(states)
        i = 0
        while i < len(out):
            node, skipped = out[i]
            i += 1
            for nxt in node.eps:
                key = (id(nxt), -1)
                if key not in seen:
                    seen.add(key)
                    out.append((nxt, -1))
            if skipped == -1 and node.gap is not None:
                key = (id(node.gap), 0)
                if key not in seen:
                    seen.add(key)
                    out.append((node.gap, 0))
        return out

    def find(self, words: Sequence[str]) -> list[tuple[int, int, int]]:
        """Every match as (label, first word index, last word index), overlaps included.

        Cost: from each start word a walk no longer than the longest phrase (each gap counted
        as MAX_GAP words), so linear in the number of words whatever they are.
        """
        out: set[tuple[int, int, int]] = set()
        n = len(words)
        start = self._close([(self._root, -1)])
        starters = self._starters
        # A gap entered at the start (a phrase opening "{a|} * b") could skip any first word.
        skippable = not any(k >= 0 for _, k in start)
        for i in range(n):
            first = words[i]
            can = starters.get(first)
            if can is None:
                can = any(True for node, _ in start for _n in self._next(node, first))
                if len(starters) < STARTERS_CACHE_MAX:
                    starters[first] = can
            if not can and skippable:
                continue  # most words begin no phrase: skip the walk's set-up
            states = start
            j = i
            while states and j < n:
                w = words[j]
                punct = w in _PUNCT
                new: list[tuple[_Node, int]] = []
                seen: set[tuple[int, int]] = set()
                closing = False  # whether a node reached has a join or a gap to enter
                for node, skipped in states:
                    for nxt in self._next(node, w):
                        key = (id(nxt), -1)
                        if key not in seen:
                            seen.add(key)
                            new.append((nxt, -1))
                            closing = closing or bool(nxt.eps) or nxt.gap is not None
                    if 0 <= skipped < MAX_GAP and not punct:
                        key = (id(node), skipped + 1)
                        if key not in seen:
                            seen.add(key)
                            new.append((node, skipped + 1))
                            closing = closing or bool(node.eps)
                states = self._close(new) if closing else new
                for node, _ in states:
                    for label in node.labels:
                        out.add((label, i, j))
                j += 1
        return sorted(out)


def leftmost_longest(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Non-overlapping spans, leftmost first and the longest at each start (as a regex scan
    with longest-first alternatives reports them)."""
    chosen: list[tuple[int, int]] = []
    end = -1
    for s, e in sorted(spans, key=lambda x: (x[0], -x[1])):
        if s > end:
            chosen.append((s, e))
            end = e
    return chosen
