"""Command-line entry points for extraction (wired into ``intake extract`` and ``make eval``).

Kept free of argument parsing so that they can be tested with ``io.StringIO``.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from intake.extraction.core import extract
from intake.extraction.eligibility import KEYS as CARD_KEYS
from intake.extraction.evaluate import evaluate, format_table, score
from intake.jsonl import map_lines, text_of


def run_extract(stdin: TextIO, stdout: TextIO, jsonl: bool, channel: str) -> int:
    """One message on stdin -> one JSON object; with ``jsonl``, one result line per input line.

    JSONL input lines carry ``text`` and optionally ``channel``, ``sender`` and ``received_at``
    (ISO datetime: the anchor for relative dates in the eligibility card; now when absent). A
    malformed line
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
            text_of(record),
            str(record.get("channel") or channel),
            record.get("sender"),
            received_at=_received_at(record),
        ).to_dict(),
    )


def _received_at(record: dict[str, Any]) -> str | None:
    value = record.get("received_at")
    if value is not None and not isinstance(value, str):
        raise TypeError("received_at must be an ISO datetime string")
    return value


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


def run_eval_eligibility(path: str, stdout: TextIO) -> int:
    """Per-key precision / recall / F1 / support of the eligibility card on a labelled JSONL file.

    Each line: ``{"id", "text", "channel", "received_at", "eligibility": {key: value}, ...}``;
    the card is extracted as ``intake extract --jsonl`` does and compared key by key, every key of
    the card (a key predicted where none is labelled is a false positive). Values, dates
    included, must match exactly. An optional ``split`` field ("dev", "holdout") adds a table per
    split. Exit status 2 when the file cannot be read or a line is not a labelled record.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        pairs = [
            (
                extract(
                    text_of(r),
                    str(r.get("channel") or "sms"),
                    r.get("sender"),
                    received_at=_received_at(r),
                ).fields.get("eligibility", {}),
                dict(r["eligibility"]),
            )
            for r in records
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        stdout.write(f"cannot evaluate {path}: {type(exc).__name__}: {exc}\n")
        return 2
    stdout.write(f"all: {len(records)} messages from {path}\n")
    stdout.write(format_table(score(pairs, CARD_KEYS)) + "\n")
    splits = sorted({str(r["split"]) for r in records if "split" in r})
    for split in splits if len(splits) > 1 else []:
        subset = [p for p, r in zip(pairs, records, strict=True) if r.get("split") == split]
        stdout.write(f"\nsplit {split}: {len(subset)} messages\n")
        stdout.write(format_table(score(subset, CARD_KEYS)) + "\n")
    return 0
