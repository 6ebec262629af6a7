"""Loads the extraction vocabularies (TOML under ``data/``) once per process.

Vocabularies live in data files so that advocates, not only programmers, can change what the
extractor recognises; this module is the single place that knows where they are.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from intake.extraction import linear


@cache
def load(name: str) -> dict[str, Any]:
    """Return the parsed ``data/<name>.toml``."""
    text = (
        resources.files("intake.extraction")
        .joinpath("data")
        .joinpath(f"{name}.toml")
        .read_text("utf-8")
    )
    return tomllib.loads(text)


@cache
def compiled(pattern: str, flags: int = linear.IGNORECASE) -> linear.Pattern:
    """Compile a vocabulary regex once (on RE2: linear time, `intake.extraction.linear`)."""
    return linear.compile(pattern, flags)


def weighted_table(name: str, section: str) -> list[tuple[linear.Pattern, float]]:
    """A ``{regex: weight}`` section of a vocabulary, compiled."""
    table = load(name)[section]
    return [(compiled(p), float(w)) for p, w in table.items()]


def score(text: str, table: list[tuple[linear.Pattern, float]]) -> float:
    """Sum the weights of the patterns that occur in ``text`` (each pattern counts once)."""
    return sum(weight for pattern, weight in table if pattern.search(text))
