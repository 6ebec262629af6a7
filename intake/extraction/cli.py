"""Command-line entry points for extraction (wired into ``intake extract`` and ``make eval``).

Kept free of argument parsing so that they can be tested with ``io.StringIO``.
"""

from __future__ import annotations

import json
from typing import TextIO

from intake.extraction.core import extract
from intake.extraction.evaluate import evaluate, format_table
from intake.jsonl import map_lines, text_of


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
    return map_lines(
        stdin,
        stdout,
        lambda record: extract(
            text_of(record), str(record.get("channel") or channel), record.get("sender")
        ).to_dict(),
    )


def run_eval(path: str, stdout: TextIO) -> int:
    """Print per-field precision / recall / F1 for a labelled JSONL file, overall and per split.

    Records may carry ``split`` ("dev": the vocabularies were written with them in view;
    "holdout": written afterwards and never tuned on), so the honest figure is visible.
    """
    with open(path, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    stdout.write(f"all: {len(records)} messages from {path}\n")
    stdout.write(format_table(evaluate(records)) + "\n")
    splits = sorted({str(r["split"]) for r in records if "split" in r})
    for split in splits if len(splits) > 1 else []:
        subset = [r for r in records if r.get("split") == split]
        stdout.write(f"\nsplit {split}: {len(subset)} messages\n")
        stdout.write(format_table(evaluate(subset)) + "\n")
    return 0
