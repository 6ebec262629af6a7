import json
from pathlib import Path
from typing import Any

import pytest

from intake.extraction.evaluate import evaluate

EVAL_SET = Path(__file__).resolve().parents[1] / "data" / "extraction_eval.jsonl"
GATED = ("phone", "email", "postcode", "referral_for", "advocacy_type")


def _records() -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in EVAL_SET.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def test_eval_set_is_big_and_varied() -> None:
    records = _records()
    assert len(records) >= 110
    assert {r["channel"] for r in records} == {"sms", "email", "voice"}
    kinds = {r["expected"].get("advocacy_type") for r in records}
    assert {"imha", "imca", "care_act", "nhs_complaints", "childrens", "general"} <= kinds
    assert {r["expected"].get("referral_for") for r in records} == {"self", "other"}


@pytest.fixture(scope="module")
def report() -> dict[str, dict[str, float]]:
    return evaluate(_records())


@pytest.mark.parametrize("field", GATED)
def test_gated_fields_f1(report: dict[str, dict[str, float]], field: str) -> None:
    assert report[field]["f1"] >= 0.85, report[field]


def test_scoring_counts_wrong_values_against_precision_and_recall() -> None:
    records = [
        {"text": "a", "expected": {"phone": "+1", "postcode": "M1 1AA"}},
        {"text": "b", "expected": {}},
        {"text": "c", "expected": {"phone": "+3", "accessibility_needs": ["x", "y"]}},
    ]
    predictions = {
        "a": {"phone": "+1", "postcode": "M2 2BB"},
        "b": {"phone": "+2"},
        "c": {"accessibility_needs": ["y", "x"]},
    }
    report = evaluate(records, lambda text, channel, sender: predictions[text])
    assert report["phone"]["tp"] == 1 and report["phone"]["fp"] == 1 and report["phone"]["fn"] == 1
    assert report["postcode"]["precision"] == 0.0 and report["postcode"]["recall"] == 0.0
    assert report["accessibility_needs"]["f1"] == 1.0
