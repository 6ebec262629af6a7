"""Quality bars on the labelled evaluation set (tests/data/screening_eval.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intake.screening.evaluate import evaluate

DATA = Path(__file__).resolve().parents[1] / "data"
HOLDOUT = Path(__file__).resolve().parent / "data" / "holdout_batch2.jsonl"
BLIND = Path(__file__).resolve().parent / "data" / "holdout_batch3.jsonl"
BLIND4 = Path(__file__).resolve().parent / "data" / "holdout_batch4.jsonl"
BLIND5 = Path(__file__).resolve().parent / "data" / "holdout_batch5.jsonl"


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
    assert eval_report["needs_review_accuracy"] >= 0.95


def test_batch2_does_not_regress() -> None:
    """Batch 2 was held out for the first lexicon, then its misses were used to broaden the
    lexicon families: it is now a regression set, no longer a measure of generalisation.
    Measured after that work: emergency 14/14, urgent 29/29, any-safeguarding 1.0, routine 0/18.
    """
    report = evaluate(_load(HOLDOUT))
    assert report["per_class"]["emergency"]["recall"] >= 0.92
    assert report["per_class"]["urgent"]["recall"] >= 0.90
    assert report["any_safeguarding_recall"] >= 0.95
    assert report["routine_wrongly_raised"] <= 0.10


def test_batch3_does_not_regress() -> None:
    """Batch 3 was blind for the second lexicon (emergency recall 0.805, urgent 0.889,
    any-safeguarding 0.906, routine raised 0.073); its misses were then used to add broader
    families (overdose without a drug name, farewells in other words, means in place, a child
    left alone, harm then helpless). It is now a tuned set: emergency 41/41, urgent 52/54,
    any-safeguarding 1.0, routine raised 2/55 (two non-English messages raised for review).
    """
    report = evaluate(_load(BLIND))
    assert report["n"] >= 120
    assert report["per_class"]["emergency"]["recall"] >= 1.0
    assert report["per_class"]["urgent"]["recall"] >= 0.96
    assert report["any_safeguarding_recall"] >= 0.99
    assert report["routine_wrongly_raised"] <= 0.05


def test_batch4_does_not_regress() -> None:
    """Batch 4 (169 messages) was blind for the third lexicon (emergency recall 0.765, urgent
    0.927, any-safeguarding 0.859, routine raised 0.032); its misses and false alarms were then
    used to add broader families (scenes of danger: a vulnerable person out in the cold, a child
    alone by a hazard or with a drunk carer, someone down on the floor for days; choking; money
    taken in the passive voice; goodbyes timed for reading) and a safety net. It is now a tuned
    set: emergency 51/51, urgent 55/55, any-safeguarding 1.0, routine raised 0/63.
    """
    report = evaluate(_load(BLIND4))
    assert report["n"] >= 150
    assert report["per_class"]["emergency"]["recall"] >= 1.0
    assert report["per_class"]["urgent"]["recall"] >= 1.0
    assert report["any_safeguarding_recall"] >= 1.0
    assert report["routine_wrongly_raised"] <= 0.04  # 0 from the lexicon, 2/63 by the model


def test_blind_batch5_holds_its_measured_floor() -> None:
    """Batch 5 (197 messages) was written by someone who never saw the lexicon, the rules or the
    model, and nothing was tuned on it. Lexicon alone: emergency recall 0.40 (29 of 58 came out
    routine), urgent 0.76, routine raised 0.05. With the model's second opinion (what `screen`
    does): emergency 0.79 (46/58; 4 routine), urgent 0.83, routine raised 0.079 (6/76), emergency
    precision 0.89. Categories: the lexicon alone 0.57 any-safeguarding recall; with the model's
    gated category heads 0.80. These floors keep it from getting worse.
    """
    report = evaluate(_load(BLIND5))
    assert report["n"] >= 190
    assert report["per_class"]["emergency"]["recall"] >= 0.79
    assert report["per_class"]["urgent"]["recall"] >= 0.82
    assert report["any_safeguarding_recall"] >= 0.80  # 0.57 lexicon only; 0.802 with model cats
    assert report["routine_wrongly_raised"] <= 0.08
    assert report["safe_to_contact_accuracy"] >= 1.0


def test_evaluate_counts_a_miss() -> None:
    """evaluate() must be able to report failure, not just success."""
    records = [{"text": "hello there, what are your opening hours", "urgency": "emergency",
                "safeguarding": ["physical"]}]
    report = evaluate(records)
    assert report["per_class"]["emergency"]["recall"] == 0.0
    assert report["any_safeguarding_recall"] == 0.0
    assert report["confusion"]["emergency"]["routine"] == 1
