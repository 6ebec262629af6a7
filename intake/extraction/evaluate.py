"""Per-field precision, recall and F1 of the extractor against labelled messages.

A record is ``{"text", "channel", "sender", "expected": {field: value}}``. For each field, a
prediction equal to the label is a true positive; a prediction with no label or a different
value is a false positive; a label with no equal prediction is a false negative (a wrong value
therefore counts against both precision and recall). Lists compare as sets. Fields never
labelled in the set are not scored (``referrer``, ``confidence``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from intake.extraction.core import extract

Extractor = Callable[[str, str, str | None], dict[str, Any]]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, list) and isinstance(b, list):
        return {str(x).lower() for x in a} == {str(x).lower() for x in b}
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return bool(a == b)


def _default_extractor(text: str, channel: str, sender: str | None) -> dict[str, Any]:
    return extract(text, channel, sender).fields


def evaluate(
    records: Iterable[dict[str, Any]], extractor: Extractor | None = None
) -> dict[str, dict[str, float]]:
    """``{field: {"tp", "fp", "fn", "precision", "recall", "f1", "support"}}`` over the records."""
    run = extractor or _default_extractor
    rows = list(records)
    labelled = sorted({key for row in rows for key in row["expected"]})
    pairs = [
        (run(r["text"], r.get("channel", "sms"), r.get("sender")), r["expected"]) for r in rows
    ]
    return score(pairs, labelled)


def score(
    pairs: Iterable[tuple[dict[str, Any], dict[str, Any]]], keys: Iterable[str]
) -> dict[str, dict[str, float]]:
    """Per-key counts and figures over ``(predicted, expected)`` pairs, for ``keys`` only.

    Precision and recall are 1.0 when there is nothing to be wrong about (no prediction, no
    label); F1 is then 1.0 too, and ``support`` (the number of labels) says so.
    """
    keys = list(keys)
    counts = {key: {"tp": 0, "fp": 0, "fn": 0} for key in keys}
    for predicted, expected in pairs:
        for key in keys:
            has_p, has_e = key in predicted, key in expected
            if has_p and has_e and _same(predicted[key], expected[key]):
                counts[key]["tp"] += 1
                continue
            if has_p:
                counts[key]["fp"] += 1
            if has_e:
                counts[key]["fn"] += 1
    report: dict[str, dict[str, float]] = {}
    for key, c in counts.items():
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[key] = {
            **c,
            "support": c["tp"] + c["fn"],
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    return report


def format_table(report: dict[str, dict[str, float]]) -> str:
    """A fixed-width text table, one line per field."""
    lines = [f"{'field':<24}{'support':>8}{'prec':>8}{'recall':>8}{'f1':>8}"]
    for key, row in report.items():
        lines.append(
            f"{key:<24}{int(row['support']):>8}{row['precision']:>8.2f}{row['recall']:>8.2f}{row['f1']:>8.2f}"
        )
    return "\n".join(lines)
