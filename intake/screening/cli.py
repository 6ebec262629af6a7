"""Command-line entry points for screening; the lead wires these into `intake screen/eval`."""

from __future__ import annotations

import json
from typing import Any, TextIO

from intake.jsonl import map_lines, text_of
from intake.screening import screen
from intake.screening.evaluate import URGENCIES, evaluate, evaluate_language


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


def _ci(v: list[Any]) -> str:
    k, n, lo, hi = v
    rate = k / n if n else 0.0
    return f"{rate:.3f} ({k}/{n}, 95% CI {lo:.3f}-{hi:.3f})"


def format_report(report: dict[str, Any]) -> str:
    """Human-readable evaluation report: headline rates with Wilson 95% intervals, the
    confusion matrix, per-class and per-category precision/recall/F1."""
    lines = [f"messages: {report['n']}   urgency accuracy: {report['accuracy']:.3f}", "",
             f"emergency recall:               {_ci(report['emergency_recall_ci'])}",
             f"emergencies read as routine:    {report['emergency_as_routine']}",
             f"urgent-or-emergency recall:     {_ci(report['urgent_or_emergency_recall_ci'])}",
             f"routine raised:                 {_ci(report['routine_raised_ci'])}",
             f"urgent over-raised to emergency: {report['urgent_to_emergency']:.3f}",
             f"category micro-F1:              {report['category_micro_f1']:.3f}", "",
             f"{'class':<12}{'precision':>10}{'recall':>10}{'f1':>8}{'n':>6}"]
    for u, m in report["per_class"].items():
        lines.append(f"{u:<12}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>8.3f}"
                     f"{m['support']:>6}")
    lines += ["", "confusion (rows gold, columns predicted):",
              f"{'':<12}" + "".join(f"{u:>11}" for u in URGENCIES)]
    for g in URGENCIES:
        lines.append(f"{g:<12}" + "".join(f"{report['confusion'][g][p]:>11}" for p in URGENCIES))
    lines += ["", f"any-safeguarding recall: {report['any_safeguarding_recall']:.3f}",
              f"safe_to_contact accuracy: {report['safe_to_contact_accuracy']:.3f}",
              f"needs_review accuracy:    {report['needs_review_accuracy']:.3f}", "",
              f"{'category':<20}{'precision':>10}{'recall':>10}{'f1':>8}{'n':>6}"]
    for c, m in report["per_category"].items():
        lines.append(f"{c:<20}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>8.3f}"
                     f"{m['support']:>6}")
    return "\n".join(lines) + "\n"


def format_language(report: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'language':<10}{'accuracy':>10}{'n':>6}   95% CI        confused with"]
    for lang, r in report.items():
        lines.append(f"{lang:<10}{r['accuracy']:>10.3f}{r['n']:>6}   "
                     f"{r['ci'][0]:.3f}-{r['ci'][1]:.3f}   {r['confused_with'] or ''}")
    return "\n".join(lines) + "\n"


def run_eval(path: str, stdout: TextIO) -> int:
    """Print the screening report (see `format_report`) for one labelled JSON-lines FILE."""
    try:
        records = _load(path)
    except (OSError, ValueError) as exc:
        stdout.write(f"cannot read {path}: {exc}\n")
        return 2
    stdout.write(format_report(evaluate(records)))
    return 0


def run_suite(manifest: str, stdout: TextIO) -> int:
    """`make eval`: every set of the manifest (tests/screening/data/sets.toml), each headed by
    whether it was tuned on, then language identification per language over all of them."""
    import tomllib
    from pathlib import Path

    root = Path(manifest).resolve().parents[3]
    sets = tomllib.loads(Path(manifest).read_text("utf-8"))["set"]
    everything: list[dict[str, Any]] = []
    for entry in sets:
        records = _load(str(root / entry["path"]))
        everything.extend(records)
        status = "TUNED ON (not a measure of generalisation)" if entry["tuned"] else "BLIND"
        stdout.write(f"=== {entry['name']} ({entry['path']}): {status}\n    {entry['note']}\n")
        stdout.write(format_report(evaluate(records)) + "\n")
    stdout.write("=== language identification, first 160 characters, all sets above (tuned)\n")
    stdout.write(format_language(evaluate_language(everything)))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(run_suite(sys.argv[1], sys.stdout))
