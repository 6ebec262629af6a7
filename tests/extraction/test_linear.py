"""Extraction runs in time linear in the text: every pattern is an RE2 pattern (issue 15).

RE2 never backtracks, so a pattern it compiles cannot be made slow by its input. What proves it
here: no module of `intake/extraction/` imports Python's `re` (or `regex`), every pattern in the
vocabularies compiles under RE2, and every pattern the code builds at run time (kinship words,
names, languages) was built through `intake.extraction.linear` while the labelled corpus and the
hostile inputs below were extracted. Speed itself is measured in `bench/`, not here.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import re2

from intake.extraction import extract, linear

ROOT = Path(__file__).resolve().parents[2]
EXTRACTION = ROOT / "intake" / "extraction"
EVAL = ROOT / "tests" / "data" / "extraction_eval.jsonl"
SIZE = 100_000
# The shapes of text that took minutes before (issue 15), and a few more of the same kind.
HOSTILE = {
    "newlines": "\n",
    "digit-hyphen runs": "12-34-",
    "reference-like tokens": "REF-7K2Q9D ",
    "spaces": " ",
    "digits and spaces": "1 ",
    "dotted letters": "a.",
    "at signs": "x@",
    "capitalised words": "Ab ",
    "accented names": "Siân ",
    "phone numbers": "07700 900123 ",
    "closings": "Kind regards\n",
    "number words": "one ",
}


def hostile(shape: str) -> str:
    unit = HOSTILE[shape]
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_no_module_of_extraction_uses_a_backtracking_engine() -> None:
    offenders = []
    for path in sorted(EXTRACTION.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [f"{path.name}: {n}" for n in names if n in ("re", "regex", "sre_compile")]
    assert offenders == []


@pytest.mark.parametrize("path", sorted((EXTRACTION / "data").glob("*.toml")), ids=lambda p: p.name)
def test_every_vocabulary_pattern_compiles_under_re2(path: Path) -> None:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    refused = []
    for text in _strings(data):
        try:
            re2.compile(text)
        except re2.error:
            refused.append(text)
    assert refused == []


def test_every_pattern_built_while_extracting_is_an_re2_pattern() -> None:
    records = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line]
    for record in records:
        extract(record["text"], record.get("channel", "sms"), record.get("sender"))
    for shape in HOSTILE:
        for channel in ("sms", "email", "voice"):
            extract(hostile(shape)[:5000], channel, "+447700900123")
    built = linear.compiled_patterns()
    assert len(built) > 150  # vocabularies, names, kinship words, languages, contacts
    for pattern in built:
        # compiled under RE2 when it was built; compiling again must agree
        assert re2.compile(pattern.pattern) is not None


def test_unless_group_marks_occurrences_that_do_not_count() -> None:
    in_care = linear.compile(r"\bin care\b(?P<unless> home)?", linear.IGNORECASE)
    assert in_care.search("she lives in a care home, in care home") is None
    text = "he is in care home now, and was in care before"
    assert in_care.search(text).start() == text.index("in care before")
    assert [m.start() for m in in_care.finditer("in care home; in care")] == [14]


def test_searching_on_from_a_group_finds_neighbours_sharing_a_boundary() -> None:
    from intake.extraction.contacts import find_phones

    assert [h.value for h in find_phones("07700900123,07700900124")] == [
        "+447700900123",
        "+447700900124",
    ]
    assert find_phones("x07700900123") == []  # run on from a word: not a number on its own
    assert find_phones("077009001234567890123456") == []


def test_offsets_are_characters_in_text_outside_ascii() -> None:
    pattern = linear.compile(r"(?P<word>\p{Lu}\p{Ll}+)")
    text = "Łódź, Zoë and Siân"
    found = [(m.group("word"), m.start("word")) for m in pattern.finditer(text)]
    assert found == [("Łódź", 0), ("Zoë", 6), ("Siân", 14)]
    assert all(text[start : start + len(word)] == word for word, start in found)


@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_hostile_text_is_extracted_whole(shape: str) -> None:
    result = extract(hostile(shape), "email", "referrer@example.org").to_dict()
    assert isinstance(result["confidence"], dict)


@pytest.mark.slow
def test_intake_extract_reads_100_kb_of_each_kind_of_hostile_text() -> None:
    for shape in ("newlines", "digit-hyphen runs", "reference-like tokens", "spaces"):
        done = subprocess.run(
            [sys.executable, "-m", "intake.cli", "extract", "--channel", "email"],
            input=hostile(shape),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "confidence" in json.loads(done.stdout)
