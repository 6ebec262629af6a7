"""Command-line entry points for screening; the lead wires these into `intake screen/eval`."""

from __future__ import annotations

import json
from typing import Any, TextIO

from intake.jsonl import map_lines, text_of
from intake.screening import screen
from intake.screening.evaluate import URGENCIES, evaluate


def run_screen(stdin: TextIO, stdout: TextIO, jsonl: bool) -> int:
    """One message on stdin -> one JSON object; or, with jsonl, one result per input line.

    JSON lines carry `text` (and optional `channel`); output is streamed in input order.
    A line that is not valid JSON gets `{"error": ...}` so line numbers stay aligned.
    """
    if not jsonl:
        stdout.write(json.dumps(screen(stdin.read()).to_dict(), ensure_ascii=False) + "\n")
        return 0
    return map_lines(
        stdin, stdout, lambda record: screen(text_of(record), record.get("channel")).to_dict()
    )


def _load(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def format_report(report: dict[str, Any]) -> str:
    """Human-readable evaluation report."""
    lines = [f"messages: {report['n']}   urgency accuracy: {report['accuracy']:.3f}", "",
             f"{'class':<12}{'precision':>10}{'recall':>10}{'f1':>8}{'n':>6}"]
    for u, m in report["per_class"].items():
        lines.append(f"{u:<12}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>8.3f}"
                     f"{m['support']:>6}")
    lines += ["", "confusion (rows gold, columns predicted):",
              f"{'':<12}" + "".join(f"{u:>11}" for u in URGENCIES)]
    for g in URGENCIES:
        lines.append(f"{g:<12}" + "".join(f"{report['confusion'][g][p]:>11}" for p in URGENCIES))
    lines += ["", f"any-safeguarding recall: {report['any_safeguarding_recall']:.3f}",
              f"routine wrongly raised:  {report['routine_wrongly_raised']:.3f}",
              f"safe_to_contact accuracy: {report['safe_to_contact_accuracy']:.3f}",
              f"needs_review accuracy:    {report['needs_review_accuracy']:.3f}", "",
              f"{'category':<20}{'precision':>10}{'recall':>10}{'n':>6}"]
    for c, m in report["per_category"].items():
        lines.append(f"{c:<20}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['support']:>6}")
    return "\n".join(lines) + "\n"


def run_eval(path: str, stdout: TextIO) -> int:
    """Print per-class precision/recall/F1, confusion matrix and safeguarding recall for FILE."""
    try:
        records = _load(path)
    except (OSError, ValueError) as exc:
        stdout.write(f"cannot read {path}: {exc}\n")
        return 2
    stdout.write(format_report(evaluate(records)))
    return 0
