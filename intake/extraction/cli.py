"""Command-line entry points for extraction (wired into ``intake extract`` and ``make eval``).

Kept free of argument parsing so that they can be tested with ``io.StringIO``.
"""

from __future__ import annotations

import json
from typing import TextIO

from intake.extraction.core import extract
from intake.extraction.evaluate import evaluate, format_table


def run_extract(stdin: TextIO, stdout: TextIO, jsonl: bool, channel: str) -> int:
    """One message on stdin -> one JSON object; with ``jsonl``, one result line per input line.

    JSONL input lines carry ``text`` and optionally ``channel`` and ``sender``. A malformed line
    yields ``{"error": ...}`` in its place so output lines stay aligned with input lines; the
    exit status is then 1.
    """
    if not jsonl:
        result = extract(stdin.read(), channel)
        stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        return 0
    status = 0
    for line in stdin:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            result = extract(
                str(record["text"]), str(record.get("channel") or channel), record.get("sender")
            )
            out: dict[str, object] = result.to_dict()
        except (ValueError, KeyError, TypeError) as exc:
            out = {"error": f"{type(exc).__name__}: {exc}"}
            status = 1
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return status


def run_eval(path: str, stdout: TextIO) -> int:
    """Print the per-field precision / recall / F1 table for a labelled JSONL file."""
    with open(path, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    report = evaluate(records)
    stdout.write(f"{len(records)} messages from {path}\n")
    stdout.write(format_table(report) + "\n")
    return 0
