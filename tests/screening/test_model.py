"""The learned second opinion: shipped weights, parity with training, raise-only behaviour."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from intake.screening import CATEGORIES, screen
from intake.screening.engine import screen_text
from intake.screening.model import (
    RiskModel,
    categories,
    category_scores,
    extract,
    load_model,
    normalise,
    opinion,
    risk,
    score,
    second_opinion,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_risk_model.py"

# sklearn's predict_proba for these texts, printed by scripts/train_risk_model.py
# ("reference_probabilities") when it wrote intake/screening/data/risk_model.json.
# Retraining changes them: paste the new ones from the script's report.
SKLEARN_PROBABILITIES = {
    "got the bag and the tape, sorry for everything": (0.666784, 0.73441),
    "can i change my appointment to thursday please": (0.223144, 0.165666),
    "my dad's care home keep leaving him in wet sheets": (0.236585, 0.768441),
    "ive taken all my tablets": (0.84033, 0.797958),
    "Hello, I'd like some information about advocacy for my brother's tribunal.": (
        0.133873, 0.17075),
}

# The category heads' probabilities for the same texts ("reference_category_probabilities").
SKLEARN_CATEGORY_PROBABILITIES = {
    ("got the bag and the tape, sorry for everything", "suicide_self_harm"): 0.948431,
    ("got the bag and the tape, sorry for everything", "physical"): 0.010852,
    ("my dad's care home keep leaving him in wet sheets", "neglect"): 0.727948,
    ("my dad's care home keep leaving him in wet sheets", "organisational"): 0.746151,
    ("ive taken all my tablets", "suicide_self_harm"): 0.994807,
    ("can i change my appointment to thursday please", "financial"): 0.008424,
}

# Indirect wording no lexicon phrase matches, which the model raises (the case categories are for).
MODEL_RAISED = "got the bag and the tape, sorry for everything"

OBVIOUS_ROUTINE = (
    "can i change my appointment to thursday please",
    "Hi, could you send me a leaflet about what an advocate does? Thanks",
    "thank you for the meeting yesterday, the letter arrived this morning",
    "what time does your office open on monday",
)


def test_json_loads_and_is_small() -> None:
    path = ROOT / "intake" / "screening" / "data" / "risk_model.json"
    assert path.stat().st_size < 2_000_000  # the brief allows 3 MB; 1.37 MB with category heads
    model = load_model()
    assert len(model.features) > 1000
    assert 0.0 < model.threshold_emergency < 1.0
    assert 0.0 < model.threshold_urgent < 1.0
    assert load_model() is model  # cached: one parse per process


@pytest.mark.parametrize(("text", "expected"), list(SKLEARN_PROBABILITIES.items()))
def test_runtime_reproduces_training_probabilities(text: str,
                                                   expected: tuple[float, float]) -> None:
    r = risk(text)
    assert r.p_emergency == pytest.approx(expected[0], abs=1e-5)
    assert r.p_urgent_or_more == pytest.approx(expected[1], abs=1e-5)


def test_scoring_is_deterministic_and_cache_independent() -> None:
    text = "gas is on, oven door open, sorry mum"
    shared = risk(text)
    assert risk(text) == shared
    fresh = RiskModel.from_dict(json.loads(
        (ROOT / "intake" / "screening" / "data" / "risk_model.json").read_text("utf-8")))
    assert score(text, fresh) == shared


def test_normalisation_drops_apostrophes_and_collapses_repeats() -> None:
    assert normalise("I’ve  had ENOUGHHHH!!! 12 pills") == "ive had enoughh 00 pills"
    assert normalise("i've") == normalise("ive") == normalise("i`ve")
    feats = extract("so so tired")
    assert feats["w:so"] == 2
    assert feats["b:so so"] == 1
    assert feats["c: so "] == 2


@pytest.mark.parametrize("text", OBVIOUS_ROUTINE)
def test_obvious_negatives_stay_low(text: str) -> None:
    model = load_model()
    r = risk(text)
    assert r.p_emergency < model.threshold_emergency
    assert r.p_urgent_or_more < model.threshold_urgent
    assert second_opinion("routine", text) == ("routine", None)


def test_clear_overdose_scores_high() -> None:
    r = risk("ive taken all my tablets")
    assert r.p_emergency >= load_model().threshold_emergency
    assert r.top_features and all(f.startswith('"') for f in r.top_features)


@pytest.mark.parametrize("urgency", ["routine", "urgent", "emergency"])
@pytest.mark.parametrize("text", [*OBVIOUS_ROUTINE, "ive taken all my tablets",
                                  "my dad's care home keep leaving him in wet sheets", ""])
def test_second_opinion_never_lowers(urgency: str, text: str) -> None:
    rank = {"routine": 0, "urgent": 1, "emergency": 2}
    raised, reason = second_opinion(urgency, text)
    assert rank[raised] >= rank[urgency]
    assert (reason is None) == (raised == urgency)
    if reason is not None:
        assert reason.startswith(f"model: {raised} (p=")


def test_second_opinion_raises_what_the_model_flags() -> None:
    raised, reason = second_opinion("routine", "ive taken all my tablets")
    assert raised == "emergency"
    assert reason is not None and '"taken"' in reason


def test_second_opinion_rejects_unknown_urgency() -> None:
    with pytest.raises(ValueError):
        second_opinion("high", "hello")


def test_training_script_runs_end_to_end_on_a_subset(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("train_risk_model", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_risk_model"] = module
    try:
        spec.loader.exec_module(module)
        out = tmp_path / "model.json"
        report = module.main(["--limit", "60", "--grid", "quick", "--out", str(out)])
    finally:
        sys.modules.pop("train_risk_model", None)
    model = RiskModel.from_dict(json.loads(out.read_text("utf-8")))
    assert set(report["cv_per_held_out_set"]) == {
        "screening_eval", "screening_dev", "holdout_batch2", "holdout_batch3", "holdout_batch4"}
    assert report["max_runtime_drift"] < 1e-5
    assert report["max_category_runtime_drift"] < 1e-5
    assert set(report["category_cv"]) == {*CATEGORIES, "_pooled"}
    assert set(model.category_names) <= set(CATEGORIES)
    for text, (p_e, p_u) in report["reference_probabilities"].items():
        r = score(text, model)
        assert r.p_emergency == pytest.approx(p_e, abs=1e-5)
        assert r.p_urgent_or_more == pytest.approx(p_u, abs=1e-5)


def test_category_heads_load() -> None:
    model = load_model()
    assert len(model.category_names) >= 10
    assert set(model.category_names) <= set(CATEGORIES)
    assert list(model.category_names) == sorted(model.category_names)
    assert all(0.0 < t < 1.0 for t in model.category_thresholds)
    assert len(model.category_intercepts) == len(model.category_names)
    assert set(model.category_weights) <= set(model.features)  # same features as urgency
    heads_used = {i for ws in model.category_weights.values() for i, _ in ws}
    assert heads_used == set(range(len(model.category_names)))


@pytest.mark.parametrize(("key", "expected"), list(SKLEARN_CATEGORY_PROBABILITIES.items()))
def test_runtime_reproduces_training_category_probabilities(key: tuple[str, str],
                                                            expected: float) -> None:
    text, cat = key
    assert dict(category_scores(text, load_model()))[cat] == pytest.approx(expected, abs=1e-5)


def test_categories_apply_thresholds_most_probable_first() -> None:
    model = load_model()
    thresholds = dict(zip(model.category_names, model.category_thresholds, strict=True))
    found = categories("my dad's care home keep leaving him in wet sheets")
    assert [c for c, _ in found] == ["organisational"]  # neglect (p=0.73) is below its bar
    assert all(p >= thresholds[c] for c, p in found)
    assert [p for _, p in found] == sorted((p for _, p in found), reverse=True)
    assert categories("can i change my appointment to thursday please") == []


@pytest.mark.parametrize("text", OBVIOUS_ROUTINE)
def test_routine_message_gets_no_model_categories(text: str) -> None:
    assert opinion("routine", text, ()).categories == ()
    res = screen(text)
    assert res.urgency == "routine"
    assert res.safeguarding == []
    assert "model categories" not in (res.needs_review or "")


def test_categories_are_gated_on_urgency_and_lexicon() -> None:
    """The heads would name categories here; the gate alone decides whether they are used."""
    text = "my dad's care home keep leaving him in wet sheets"
    assert categories(text)
    assert opinion("urgent", text, ()).categories == tuple(categories(text))
    assert opinion("emergency", text, ()).categories == tuple(categories(text))
    assert opinion("urgent", text, ["neglect"]).categories == ()
    assert opinion("emergency", text, ["physical"]).categories == ()
    raised = opinion("routine", text, ())  # the model raises it to urgent: gate opens
    assert raised.urgency == "urgent" and raised.reason is not None
    assert raised.categories == tuple(categories(text))


def test_model_raised_message_gets_categories_and_says_so() -> None:
    lexicon = screen_text(MODEL_RAISED, None)
    assert lexicon.urgency == "routine" and lexicon.safeguarding == []  # precondition
    res = screen(MODEL_RAISED)
    assert res.urgency == "emergency"
    assert res.safeguarding == ["suicide_self_harm"]
    assert res.matches == lexicon.matches  # the model adds no phrase matches
    review = res.needs_review or ""
    assert review.startswith("model: emergency (p=")
    head, sep, tail = review.partition("; model categories: ")
    assert sep and "model categories" not in head
    # names and probabilities only, nothing quoted from the message
    assert re.fullmatch(r"[a-z_]+ \(p=\d\.\d\d\)(, [a-z_]+ \(p=\d\.\d\d\))*", tail)
    assert tail.startswith("suicide_self_harm (p=0.95)")


@pytest.mark.parametrize("text", [
    MODEL_RAISED,
    "my dad's care home keep leaving him in wet sheets",
    "ive taken all my tablets",
    "my partner hit me last night and i am scared to go home",
    "my brother was sectioned under section 3 yesterday, tribunal is on friday",
    *OBVIOUS_ROUTINE,
])
def test_screen_only_adds(text: str) -> None:
    rank = {"routine": 0, "urgent": 1, "emergency": 2}
    lexicon, combined = screen_text(text, None), screen(text)
    assert rank[combined.urgency] >= rank[lexicon.urgency]
    assert set(lexicon.safeguarding) <= set(combined.safeguarding)
    assert combined.safeguarding == sorted(set(combined.safeguarding))
    if combined.safeguarding != lexicon.safeguarding:
        assert lexicon.safeguarding == []  # categories only where the lexicon named none
        assert combined.urgency in ("urgent", "emergency")
        assert "model categories: " in (combined.needs_review or "")


def test_categories_are_deterministic_and_cache_independent() -> None:
    fresh = RiskModel.from_dict(json.loads(
        (ROOT / "intake" / "screening" / "data" / "risk_model.json").read_text("utf-8")))
    for text in (MODEL_RAISED, "my dad's care home keep leaving him in wet sheets"):
        assert category_scores(text, fresh) == category_scores(text, load_model())
        assert screen(text) == screen(text)
        assert opinion("urgent", text, ()) == opinion("urgent", text, ())
