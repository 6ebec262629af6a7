"""The learned model: shipped weights, parity with training, the decision policy, reasons."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from intake.screening import CATEGORIES, screen
from intake.screening.engine import screen_text
from intake.screening.model import (
    RiskModel,
    decide,
    lexicon_features,
    load_model,
    normalise,
    opinion,
    risk,
    score,
)

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "intake" / "screening" / "data" / "risk_model.json"


def test_shipped_model_loads_and_is_sane() -> None:
    model = load_model()
    assert len(model.features) > 10_000
    for key in ("t_emergency", "t_urgent", "t_lexicon_emergency_down", "t_lexicon_urgent_down"):
        assert 0.0 <= model.policy[key] < 1.0
    assert set(model.category_names) <= set(CATEGORIES)
    assert len(model.category_names) == len(model.category_thresholds)
    assert set(model.category_weights) <= set(model.features)


def test_model_records_how_it_was_chosen() -> None:
    meta = json.loads(MODEL.read_text("utf-8"))["meta"]
    assert "leave-one-set-out" in meta["cv"]
    assert meta["n_examples"] > 2000
    assert {"batch6", "train_c"} <= set(meta["trained_on"])


def test_scoring_is_deterministic_and_probabilities() -> None:
    text = "got the bag and the tape, sorry for everything"
    a, b = risk(text), risk(text)
    assert a == b
    assert 0.0 <= a.p_emergency <= 1.0 and 0.0 <= a.p_urgent_or_more <= 1.0


def test_normalise_keeps_every_script_and_folds_latin_diacritics() -> None:
    assert normalise("Zabić SIĘ!!!") == normalise("zabic sie")
    assert normalise("আমার বাবা") == "আমার বাবা"
    assert normalise("ਮੈਂ ਹੁਣ") == "ਮੈਂ ਹੁਣ"


def _model_with(policy: dict[str, float]) -> RiskModel:
    data = json.loads(MODEL.read_text("utf-8"))
    data["policy"] = policy
    return RiskModel.from_dict(data)


def test_lexicon_emergency_is_never_lowered_below_urgent() -> None:
    model = _model_with({"t_emergency": 1.01, "t_urgent": 1.01,
                         "t_lexicon_emergency_down": 1.01, "t_lexicon_urgent_down": 1.01})
    text = "i want to kill myself"  # not an act already done (those are firm: never lowered)
    lex = screen_text(text, None)
    assert lex.urgency == "emergency"
    assert decide(lex, score(text, model, lex), model) == "urgent"


def test_a_review_reason_is_never_lowered() -> None:
    model = _model_with({"t_emergency": 1.01, "t_urgent": 1.01,
                         "t_lexicon_emergency_down": 1.01, "t_lexicon_urgent_down": 1.01})
    text = "Salaan, waxaan u baahanahay caawimaad hooyaday ayaa jiran"  # Somali: no word list
    lex = screen_text(text, None)
    assert lex.needs_review is not None and lex.urgency == "urgent"
    assert decide(lex, score(text, model, lex), model) == "urgent"


@pytest.mark.parametrize("text", [
    "ive sorted everything so nobody has to worry about me after tonight",
    "Could someone tell me what an advocate does?",
    "this form is killing me, can someone help me fill it in",
])
def test_every_change_the_model_makes_is_explained(text: str) -> None:
    lex, final = screen_text(text, None), screen(text)
    if final.urgency != lex.urgency:
        assert final.needs_review is not None and "model:" in final.needs_review
        assert final.matches == lex.matches  # the model adds or removes no phrase matches
    added = set(final.safeguarding) - set(lex.safeguarding)
    if added:
        assert "model categories:" in (final.needs_review or "")


def test_the_stop_word_list_is_loaded() -> None:
    """data/languages.toml's stop_words must be a top-level key (below a [table] header TOML
    files it under that table, and the list silently became empty once)."""
    from intake.screening.model import _stop_words

    stop = _stop_words()
    assert {"its", "it's", "also", "the", "of", "from"} <= stop


@pytest.mark.parametrize("text", [
    "ive sorted everything so nobody has to worry about me after tonight",
    "i have got the rope and i am going to the woods after work",
    "of the of the and to from it",
    "hi it's Mo from the garage your car's ready",
    "its done now. its all over. its fine",
    "this is an automated message your meter reading is due",
])
def test_reasons_never_quote_stop_words(text: str) -> None:
    import re

    from intake.screening.model import _stop_words

    stop = _stop_words()
    review = screen(text).needs_review or ""
    for q in re.findall(r'"([^"]+)"', review):
        assert q.split() and not all(w in stop or len(w) < 3 for w in q.split()), q


@pytest.mark.parametrize("text", [
    "Bill of Rights",
    "TEXT",
    "Hi, this is the pharmacy, your prescription is ready to collect from tomorrow.",
    "Hello, this is a message from Greenfield Pharmacy: the prescription for Mrs Patel is ready.",
    "yes",
    "STOP",
    "Re: overdose awareness poster",
    "my phone died, sorry",
    "hi it's Mo from the garage your car's ready",
    "Your prescription for sertraline 50mg x28 is ready for collection at Well Pharmacy.",
    "Lloyds Pharmacy: repeat medication (co-codamol 30/500 x100) ready to collect. Reply STOP "
    "to opt out",
])
def test_bare_words_and_pharmacy_voicemails_are_not_raised(text: str) -> None:
    r = screen(text)
    assert r.urgency == "routine"
    assert r.safeguarding == []


def test_routine_messages_get_no_model_categories() -> None:
    op = opinion(screen_text("can i change my appointment to thursday please", None),
                 "can i change my appointment to thursday please")
    assert op.urgency == "routine" and op.added == ()


@pytest.mark.slow
def test_training_script_reproduces_runtime_probabilities(tmp_path: Path) -> None:
    """The exported weights, scored in pure Python, give sklearn's probabilities (drift ~1e-6),
    on a small C search so the test stays quick."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train", ROOT / "scripts/train_risk_model.py")
    assert spec and spec.loader
    train = importlib.util.module_from_spec(spec)
    sys.modules["train"] = train  # its dataclasses resolve their annotations through it
    try:
        spec.loader.exec_module(train)
    except BaseException:
        del sys.modules["train"]
        raise
    train.SETS = train.SETS[:3]
    # One policy grid point: the test is about probabilities, and the full search (700 grid
    # points, about 25 s) is tested by test_the_policy_search_counts_what_the_policy_decides.
    train.LEXICON_EMERGENCY_DOWN_GRID, train.GATE_GRID = (0.1,), (0.2,)
    train.GATE_LONG_GRID = (0.0,)
    try:
        report = train.main(["--out", str(tmp_path / "m.json"), "--C", "4"])
    finally:
        del sys.modules["train"]
    assert report["max_runtime_drift"] < 1e-4
    RiskModel.from_dict(json.loads((tmp_path / "m.json").read_text("utf-8")))


@pytest.mark.parametrize("text", [
    "my son hits me when he's drunk",
    "my daughter takes my pension every week and shouts at me",
    "please tell my kids i love them",
])
def test_child_only_when_a_child_is_at_risk(text: str) -> None:
    assert "child" not in screen(text).safeguarding


@pytest.mark.parametrize("text", [
    "he is hitting me right now, locked myself in the bathroom with the baby",
    "my husband is hitting me now, me and the kids are locked in the bedroom",
])
def test_a_partner_hitting_now_is_domestic_and_an_emergency(text: str) -> None:
    r = screen(text)
    assert r.urgency == "emergency" and "domestic" in r.safeguarding


def test_a_raised_message_is_never_left_without_a_category_when_one_is_likely() -> None:
    r = screen("i've got the gas on and the windows shut")
    assert r.urgency == "emergency" and r.safeguarding


def test_an_overdose_taken_is_never_lowered_however_it_is_dressed() -> None:
    """rules.toml `firm`: even a policy that would lower every lexicon emergency keeps one that
    rests on an act already done, in a professional's referral form as in a text."""
    model = _model_with({"t_emergency": 1.01, "t_urgent": 1.01,
                         "t_lexicon_emergency_down": 1.01, "t_lexicon_urgent_down": 1.01})
    for text in ["Referral form\nName: Owen Tranter\nRisk: he said today he has taken 40 "
                 "paracetamol and wants to die\nWard  Ash Ward",
                 "took 30 paracetamol an hour ago"]:
        lex = screen_text(text, None)
        assert lex.urgency == "emergency"
        assert decide(lex, score(text, model, lex), model) == "emergency"
    # a lexicon emergency that is not an act done can still be lowered (to urgent, never below)
    text = "i want to kill myself"
    lex = screen_text(text, None)
    assert decide(lex, score(text, model, lex), model) == "urgent"


def test_abuse_disclosed_as_happening_now_is_never_lowered_to_routine() -> None:
    """lexicon.toml `abuse.now` is `firm`: a bare present-tense disclosure stays at least
    urgent whatever the model makes of it (the shipped round-2 model lowered "a woman at my
    church is being abused" to routine, and "my cousin is getting abused" too; no labelled
    message supports lowering one). Past or
    negated wording is not held, so the model keeps its power over false alarms."""
    model = _model_with({"t_emergency": 1.01, "t_urgent": 1.01,
                         "t_lexicon_emergency_down": 1.01, "t_lexicon_urgent_down": 1.01})
    for text in ["a woman at my church is being abused",
                 "an old man on our street is being exploited",
                 # a kind named (family: `domestic`), the present-tense phrase still holds it
                 "my cousin is getting abused"]:
        lex = screen_text(text, None)
        assert lex.urgency == "urgent", text
        assert decide(lex, score(text, model, lex), model) == "urgent", text
        assert screen(text).urgency != "routine", text
    # the same policy lowers an urgent that is not a present-tense disclosure
    text = "she was abused by her ex"
    lex = screen_text(text, None)
    assert lex.urgency == "urgent"
    assert decide(lex, score(text, model, lex), model) == "routine"
    # and a negated one is no disclosure at all
    assert screen_text("I'm not being abused, I just feel lonely", None).urgency == "routine"


@pytest.mark.parametrize(("text", "feature"), [
    ("my son takes my pension every week", "l:x=family&financial"),
    ("staff at the home hit my dad", "l:x=staff&physical"),
    ("Mój mąż mnie uderzył. Dzieci płaczą", "l:x=child&family"),
])
def test_who_is_involved_is_a_feature(text: str, feature: str) -> None:
    """Who did it decides domestic, organisational or child (Care and Support Statutory
    Guidance 14.17); a linear model can only weigh that as a conjunction it is given."""
    assert feature in lexicon_features(screen_text(text))


def test_the_quick_urgency_is_the_full_screens_urgency() -> None:
    """The door's quick screen (`urgency`) skips the category heads; it must never choose a
    different queue from the worker's full screen."""
    from intake.screening import urgency
    from intake.screening.engine import screen_text
    from intake.screening.model import final_urgency, opinion

    data = ROOT / "tests" / "screening" / "data"
    texts = [json.loads(x)["text"] for p in sorted(data.glob("*.jsonl"))
             for x in p.read_text("utf-8").splitlines()[:30] if x.strip()]
    assert len(texts) > 1500  # the first 30 of every set: each writer's kinds of message
    # The two public functions on a sample, then the two decisions they run on every text with
    # the lexicon read once (`urgency` is final_urgency(screen_text(t), t); `screen`'s urgency
    # is opinion(screen_text(t), t).urgency): half the time for the same comparison.
    assert [urgency(t) for t in texts[::20]] == [screen(t).urgency for t in texts[::20]]
    lexicons = [screen_text(t, None) for t in texts]
    assert [final_urgency(lx, t) for lx, t in zip(lexicons, texts, strict=True)] == \
        [opinion(lx, t).urgency for lx, t in zip(lexicons, texts, strict=True)]


def test_a_format_2_model_file_is_still_read_the_same() -> None:
    """Format 3 stores columns; a model written before it (format 2: a dict per feature) must
    score the same, so a service can roll back its data without a code change."""
    data = json.loads(MODEL.read_text("utf-8"))
    f = data["features"]
    old = dict(data, format=2, features={
        k: [i, e, u] for k, i, e, u in zip(f["names"], f["idf"], f["emergency"], f["urgent"],
                                            strict=True)})
    old["categories"] = {c: dict(h, weights={f["names"][j]: w for j, w in
                                             zip(h["weights"]["index"], h["weights"]["w"],
                                                 strict=True)})
                         for c, h in data["categories"].items()}
    new_model, old_model = RiskModel.from_dict(data), RiskModel.from_dict(old)
    for text in ("my son takes my pension and shouts at me", "ive taken all my tablets",
                 "can i change my appointment to thursday"):
        lex = screen_text(text)
        assert score(text, new_model, lex) == score(text, old_model, lex)
        assert new_model.category_weights == old_model.category_weights


def _train_module():  # the training script, loaded as a module
    import importlib.util

    spec = importlib.util.spec_from_file_location("train", ROOT / "scripts/train_risk_model.py")
    assert spec and spec.loader
    train = importlib.util.module_from_spec(spec)
    sys.modules["train"] = train
    try:
        spec.loader.exec_module(train)
    finally:
        del sys.modules["train"]
    return train


def test_another_language_is_raised_only_past_its_own_thresholds() -> None:
    from intake.screening.model import RiskScore

    model = _model_with({"t_emergency": 0.3, "t_urgent": 0.3, "t_emergency_foreign": 0.8,
                         "t_urgent_foreign": 0.7, "t_lexicon_emergency_down": 0.0,
                         "t_lexicon_urgent_down": 0.0})
    english = screen_text("hello, can someone call me back about my mum", None)
    welsh = screen_text("Bore da, a allwch chi fy ffonio yn ôl am fy mam os gwelwch yn dda", None)
    assert english.language == "en" and welsh.language == "cy" and welsh.needs_review is None
    assert english.urgency == welsh.urgency == "routine"
    middling = RiskScore(0.5, 0.5, [], 20)
    assert decide(english, middling, model) == "emergency"
    assert decide(welsh, middling, model) == "routine"
    assert decide(welsh, RiskScore(0.5, 0.75, [], 20), model) == "urgent"
    assert decide(welsh, RiskScore(0.85, 0.9, [], 20), model) == "emergency"


def test_a_detention_or_statutory_clock_is_held_at_urgent_and_a_question_is_not() -> None:
    from intake.screening.model import RiskScore, held_floor

    model = _model_with({"t_emergency": 1.01, "t_urgent": 1.01,
                         "t_lexicon_emergency_down": 1.01, "t_lexicon_urgent_down": 0.9})
    question = screen_text("does the advocate visit people who are detained on a ward", None)
    request = screen_text("my brother is on a section 3 at the unit and wants to appeal to the "
                          "tribunal, can he have an advocate", None)
    clock = screen_text("his tribunal is on thursday and nobody has told him", None)
    assert [r.urgency for r in (question, request, clock)] == ["routine", "urgent", "urgent"]
    unlikely = RiskScore(0.01, 0.01, [], 12)
    for lexicon in (request, clock):
        assert held_floor(lexicon) == 1
        assert decide(lexicon, unlikely, model) == "urgent"
    assert held_floor(question) == 0


def test_the_policy_search_counts_what_the_policy_decides() -> None:
    """choose_policy scores thousands of thresholds by counting sorted probabilities; the counts
    must be what `Policy.decide` gives, row by row, for any thresholds."""
    import numpy as np

    train = _train_module()
    rng = np.random.default_rng(7)
    n = 400
    gold = rng.integers(0, 3, n)
    lex = np.where(rng.random(n) < 0.95, gold, rng.integers(0, 3, n))  # a lexicon that mostly knows
    p_e = np.where(gold == 2, 0.6, 0.0) + 0.4 * rng.random(n)  # a model that mostly knows
    p_u = np.where(gold > 0, 0.6, 0.0) + 0.4 * rng.random(n)
    held = (rng.random(n) < 0.03).astype(int)
    n_words = rng.integers(1, 40, n)
    notice, foreign = rng.random(n) < 0.05, rng.random(n) < 0.3
    calm = rng.random(n) < 0.05
    grid = np.array([0.2, 0.45, 0.7])
    for rows in (~foreign, foreign):
        # a long-message gate (0.0) below the floor gate (0.1), as the shipped policy has
        counts = train._subset_counts(p_e, p_u, lex, gold, n_words, held, notice, rows,
                                      0.1, 0.2, 0.3, 0.0, grid, grid, calm)
        for a, t_u in enumerate(grid):
            for b, t_e in enumerate(grid):
                pol = train.Policy(float(t_e), float(t_u), 0.1, 0.2, 0.3, float(t_e),
                                   float(t_u), 0.0)
                pred = pol.decide(p_e, p_u, lex, n_words, held, notice, foreign, calm)[rows]
                g = gold[rows]
                k = a * len(grid) + b
                assert counts["em_hit"][k] == ((g == 2) & (pred == 2)).sum()
                assert counts["em_routine"][k] == ((g == 2) & (pred == 0)).sum()
                assert counts["ue_hit"][k] == ((g > 0) & (pred > 0)).sum()
                assert counts["raised"][k] == ((g == 0) & (pred > 0)).sum()
                assert counts["over"][k] == ((g == 1) & (pred == 2)).sum()
    # A smaller search than the trainer's (its counts are checked above for any thresholds).
    train.LEXICON_EMERGENCY_DOWN_GRID, train.GATE_GRID = (0.0, 0.2), (0.2, 0.4)
    train.GATE_LONG_GRID = (0.0, 0.1)
    policy, _ = train.choose_policy(p_e, p_u, lex, gold, n_words, held, notice, foreign, calm)
    assert policy.t_emergency_foreign >= policy.t_emergency
    assert policy.t_urgent_foreign >= policy.t_urgent


@pytest.mark.parametrize("number", ["07700 900123", "+44 7700 900 123", "0113 496 0000",
                                    "943 476 5919"])
def test_a_phone_or_record_number_weighs_nothing(number: str) -> None:
    """A contact or record number says who to call, not how urgent (round 7: a model that had
    learnt "00000 000000" read "please help, this is Sam again, text me on ..." as an
    emergency)."""
    bare = "hello this is Sam again, please text me back on"
    assert risk(f"{bare} {number}") == risk(bare)
    assert normalise("took 30 tablets at 2am") == "took 00 tablets at 0am"


def test_a_reassured_message_is_not_made_an_emergency_by_the_model() -> None:
    """Round 11 (blind batches 25 to 27): a 2 a.m. text moving a meeting ("not urgent") was raised
    to emergency by the model's time words. The model may still call it urgent; the lexicon's
    own emergency stands (`model.is_reassured`)."""
    from intake.screening.model import RiskScore, decide, is_reassured, load_model

    model = load_model()
    calm = screen_text("so sorry its 3am, can we move fridays visit to the morning? no rush", None)
    assert calm.urgency == "routine" and is_reassured(calm)
    certain = RiskScore(0.99, 0.99, [], 14)
    assert decide(calm, certain, model) == "urgent"
    taken = screen_text("ive taken 30 paracetamol but im fine really, not urgent", None)
    assert taken.urgency == "emergency" and not is_reassured(taken)
    assert decide(taken, RiskScore(0.01, 0.01, [], 9), model) == "emergency"


def test_an_emergency_head_past_its_threshold_is_never_routine() -> None:
    """The short-message gate and a reassurance decide between emergency and urgent, not
    routine, unless the urgent head all but rules the message out (round 12 read "pills in my
    hand" as routine once its gate rose to 0.3; a bare "sorry" stays routine)."""
    from intake.screening.model import RiskScore

    model = _model_with({"t_emergency": 0.3, "t_urgent": 0.7, "t_emergency_gate": 0.5,
                         "t_emergency_floor_gate": 0.1, "t_lexicon_emergency_down": 0.0,
                         "t_lexicon_urgent_down": 0.0})
    short = screen_text("in my hand now", None)
    assert short.urgency == "routine"
    assert decide(short, RiskScore(0.6, 0.2, [], 4), model) == "urgent"  # gated: urgent
    assert decide(short, RiskScore(0.6, 0.6, [], 4), model) == "emergency"
    assert decide(short, RiskScore(0.2, 0.2, [], 4), model) == "routine"  # below t_emergency
    assert decide(short, RiskScore(0.6, 0.05, [], 4), model) == "routine"  # ruled out
    old = _model_with({k: v for k, v in model.policy.items() if k != "t_emergency_floor_gate"})
    assert decide(short, RiskScore(0.6, 0.2, [], 4), old) == "routine"  # an older model file
    notice = screen_text("your repeat prescription is ready to collect, open till six tonight",
                         None)
    assert decide(notice, RiskScore(0.9, 0.9, [], 12), model) == "routine"
