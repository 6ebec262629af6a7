"""Loads the extraction vocabularies (TOML under ``data/``) once per process.

Vocabularies live in data files so that advocates, not only programmers, can change what the
extractor recognises; this module is the single place that knows where they are.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from typing import Any


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
def compiled(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    """Compile a vocabulary regex once; patterns are reused across many messages."""
    return re.compile(pattern, flags)


def weighted_table(name: str, section: str) -> list[tuple[re.Pattern[str], float]]:
    """A ``{regex: weight}`` section of a vocabulary, compiled."""
    table = load(name)[section]
    return [(compiled(p), float(w)) for p, w in table.items()]


def score(text: str, table: list[tuple[re.Pattern[str], float]]) -> float:
    """Sum the weights of the patterns that occur in ``text`` (each pattern counts once)."""
    return sum(weight for pattern, weight in table if pattern.search(text))
