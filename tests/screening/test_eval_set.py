"""Quality bars on the labelled evaluation set (tests/data/screening_eval.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intake.screening.evaluate import evaluate

DATA = Path(__file__).resolve().parents[1] / "data"


def _load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def eval_report() -> dict:
    return evaluate(_load(DATA / "screening_eval.jsonl"))


def test_eval_set_is_big_and_covers_every_category() -> None:
    records = _load(DATA / "screening_eval.jsonl")
    assert len(records) >= 300
    cats = {c for r in records for c in r["safeguarding"]}
    assert len(cats) == 12
    assert {r["urgency"] for r in records} == {"emergency", "urgent", "routine"}
    assert {r["channel"] for r in records} == {"sms", "email", "voice"}


def test_emergency_recall(eval_report: dict) -> None:
    assert eval_report["per_class"]["emergency"]["recall"] >= 0.97


def test_any_safeguarding_recall(eval_report: dict) -> None:
    assert eval_report["any_safeguarding_recall"] >= 0.95


def test_routine_wrongly_raised(eval_report: dict) -> None:
    assert eval_report["routine_wrongly_raised"] <= 0.10


def test_safe_to_contact_and_review_flags(eval_report: dict) -> None:
    assert eval_report["safe_to_contact_accuracy"] >= 0.95
    # Lower than before issue 13: the model now notes the categories it adds in needs_review.
    assert eval_report["needs_review_accuracy"] >= 0.90


def test_every_set_is_listed_with_its_tuned_status() -> None:
    import tomllib

    manifest = tomllib.loads((Path(__file__).parent / "data" / "sets.toml").read_text("utf-8"))
    listed = {Path(e["path"]).name for e in manifest["set"]}
    on_disk = {p.name for p in (Path(__file__).parent / "data").glob("*.jsonl")}
    assert on_disk <= listed
    assert all(isinstance(e["tuned"], bool) and e["note"] for e in manifest["set"])


def test_wilson_interval() -> None:
    from intake.screening.evaluate import wilson

    assert wilson(0, 0) == (0.0, 1.0)
    lo, hi = wilson(46, 70)  # batch 6 before tuning: 0.657
    assert lo < 46 / 70 < hi and round(lo, 2) == 0.54 and round(hi, 2) == 0.76
    lo, hi = wilson(10, 10)
    assert hi == 1.0 and 0.69 < lo < 0.73


def test_evaluate_counts_a_miss() -> None:
    """evaluate() must be able to report failure, not just success."""
    records = [{"text": "hello there, what are your opening hours", "urgency": "emergency",
                "safeguarding": ["physical"]}]
    report = evaluate(records)
    assert report["per_class"]["emergency"]["recall"] == 0.0
    assert report["any_safeguarding_recall"] == 0.0
    assert report["confusion"]["emergency"]["routine"] == 1
