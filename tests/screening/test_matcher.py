"""The phrase trie (`intake.screening.matcher`): its shortcuts change no match."""

from __future__ import annotations

import json
from pathlib import Path

from intake.screening.lexicon import get
from intake.screening.matcher import Trie

DATA = Path(__file__).resolve().parent / "data"


class _EveryWordMayStart(dict[str, bool]):
    """A starters table that never lets `find` skip a word: the walk as it was written."""

    def get(self, key: str, default: bool | None = None) -> bool:  # type: ignore[override]
        return True


def test_skipping_words_that_begin_no_phrase_finds_exactly_the_same_matches() -> None:
    lex = get()
    reference = Trie.__new__(Trie)
    reference.__setstate__(lex.trie.__getstate__())
    reference._starters = _EveryWordMayStart()
    texts = [json.loads(line)["text"] for name in ("batch14.jsonl", "train_h.jsonl",
                                                   "train_i.jsonl")
             for line in (DATA / name).read_text("utf-8").splitlines()]
    found = 0
    for text in texts:
        words = lex.normalise(text).words
        expected = reference.find(words)
        assert lex.trie.find(words) == expected, text
        found += len(expected)
    assert len(texts) == 800 and found > 2000


def test_a_trie_read_back_from_the_cache_takes_no_new_phrases() -> None:
    trie = Trie(lambda w: (w,))
    trie.add("on the bridge", 0)
    copy = Trie.__new__(Trie)
    copy.__setstate__(trie.__getstate__())
    assert copy.find(("stood", "on", "the", "bridge")) == [(0, 1, 3)]
    try:
        copy.add("on the roof", 1)
    except RuntimeError as exc:
        assert "cache" in str(exc)
    else:
        raise AssertionError("a read-only trie took a phrase")
