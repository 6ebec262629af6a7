"""Streaming JSON lines through a pure function, for `intake screen --jsonl` and friends.

One output line per non-blank input line, in order, written as soon as it is computed, so a large
file can be piped through. A line that cannot be handled gets `{"error": ...}` in its place (the
line numbers stay aligned) and the exit status becomes 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def text_of(record: dict[str, Any]) -> str:
    text = record["text"]
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    return text


def map_lines(stdin: TextIO, stdout: TextIO, handle: Handler) -> int:
    status = 0
    for line in stdin:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError("each line must be a JSON object")
            out = handle(record)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            out = {"error": f"bad input line: {type(exc).__name__}: {exc}"}
            status = 1
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return status
