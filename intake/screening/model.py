"""A learned second opinion on urgency that can only raise it, never lower it.

Why: the phrase lexicon catches the wording it was written for, and on blind sets it misses
indirect risk ("got the bag and the tape", "ive made sure i wont be a problem"). A small linear
model over word and character n-grams generalises a little past exact phrases. It is trained
offline (`scripts/train_risk_model.py`, scikit-learn) and shipped as weights in
`data/risk_model.json`; scoring here is pure Python so the service needs no numpy/sklearn.

Model: two binary logistic-regression heads over one shared vocabulary,
"emergency vs not" (`p_emergency`) and "urgent or emergency vs routine" (`p_urgent_or_more`).
Features: lower-cased text, apostrophes dropped, runs of 3+ repeated characters cut to 2, digits
mapped to 0; word unigrams and bigrams plus character 3-5 grams inside word boundaries;
sublinear tf times idf, L2-normalised (features outside the shipped vocabulary are ignored).

Thresholds (chosen by grouped cross-validation on the training sets, stored in the JSON under
"thresholds"; see the training script's report for the figures):
- raise to "emergency" when `p_emergency >= thresholds["emergency"]` and the engine said less;
- raise "routine" to "urgent" when `p_urgent_or_more >= thresholds["urgent"]`.
Shipped values: emergency 0.495, urgent 0.610 (C=1, class-balanced, every training n-gram kept:
20,686 features, 0.86 MB). Leave-one-set-out over the five training sets, the model alone found
0.83 of emergencies (0.71 on batch 4, the set written away from obvious keywords) and raised
4.8% of routine messages; it also lifts about 10% of urgent messages to emergency, the price of
recall, which is why every raise is a review item rather than a silent change.
Every raise carries a review reason naming the model and its strongest features, so a duty
advocate can see that a model, not a lexicon rule, put the message higher in the queue.

Category heads: one logistic regression per safeguarding category on the same features, with
per-category thresholds chosen out of fold for precision (>= 0.8 in leave-one-set-out CV: a wrong
category is noise for an advocate). They exist because a message the model raises often matched
no phrase and so carried no category, and the dashboard and case system could not say what kind
of harm it was. They are GATED (`opinion`): computed only when the final urgency is urgent or
emergency and the lexicon found no category, so most messages pay nothing for them (a gated
message pays about 80 µs; 7% of the evaluation set is gated). Weights under 0.4 in magnitude are
not shipped (26k of 12 x 20.7k kept; the JSON is 1.37 MB). Out of fold, pooled: flag precision
0.86, and 0.84 of categorised messages get at least one category from the heads alone.
"""

from __future__ import annotations

import heapq
import json
import math
import re
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from typing import Any

URGENCY_RANK = {"routine": 0, "urgent": 1, "emergency": 2}
CHAR_NGRAMS = (3, 4, 5)
WORD_CACHE_MAX = 50_000

_APOSTROPHES = re.compile(r"['’‘`´]")
_REPEATS = re.compile(r"(.)\1{2,}")
_DIGITS = re.compile(r"\d")
_NON_WORD = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class RiskScore:
    p_emergency: float
    p_urgent_or_more: float
    top_features: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Opinion:
    """The model's second opinion: an urgency never lower than the lexicon's, the review reason
    if it raised it, and safeguarding categories (name, probability) only when gated in."""

    urgency: str
    reason: str | None = None
    categories: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class RiskModel:
    """Weights as loaded from JSON: feature -> (idf, emergency weight, urgent weight), and per
    feature its non-negligible category weights as (index into category_names, weight)."""

    features: dict[str, tuple[float, float, float]]
    intercept_emergency: float
    intercept_urgent: float
    threshold_emergency: float
    threshold_urgent: float
    meta: dict[str, Any]
    category_names: tuple[str, ...] = ()
    category_intercepts: tuple[float, ...] = ()
    category_thresholds: tuple[float, ...] = ()
    category_weights: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict,
                                                                        repr=False)
    word_cache: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False,
                                                   repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RiskModel:
        heads = sorted(data.get("categories", {}).items())
        by_feature: dict[str, list[tuple[int, float]]] = {}
        for i, (_, head) in enumerate(heads):
            for k, w in head["weights"].items():
                by_feature.setdefault(k, []).append((i, float(w)))
        return cls(
            features={k: (v[0], v[1], v[2]) for k, v in data["features"].items()},
            intercept_emergency=float(data["intercept"]["emergency"]),
            intercept_urgent=float(data["intercept"]["urgent"]),
            threshold_emergency=float(data["thresholds"]["emergency"]),
            threshold_urgent=float(data["thresholds"]["urgent"]),
            meta=dict(data.get("meta", {})),
            category_names=tuple(name for name, _ in heads),
            category_intercepts=tuple(float(h["intercept"]) for _, h in heads),
            category_thresholds=tuple(float(h["threshold"]) for _, h in heads),
            category_weights={k: tuple(v) for k, v in by_feature.items()},
        )


def normalise(text: str) -> str:
    """One canonical form for training and scoring alike: any drift between them is a bug."""
    t = _APOSTROPHES.sub("", text.lower())
    t = _REPEATS.sub(r"\1\1", t)
    t = _DIGITS.sub("0", t)
    return _NON_WORD.sub(" ", t).strip()


def _word_features(word: str) -> list[str]:
    """The word's own feature and its character n-grams (" word " padded), repeats kept."""
    out = ["w:" + word]
    padded = " " + word + " "
    n_chars = len(padded)
    for n in CHAR_NGRAMS:
        if n > n_chars:
            break
        out.extend("c:" + padded[i:i + n] for i in range(n_chars - n + 1))
    return out


def extract(text: str) -> dict[str, int]:
    """Raw feature counts. Prefixes keep the three kinds apart: w: word, b: bigram, c: chars."""
    words = normalise(text).split()
    counts: dict[str, int] = {}
    get = counts.get
    for w in words:
        for key in _word_features(w):
            counts[key] = get(key, 0) + 1
    for a, b in pairwise(words):
        key = "b:" + a + " " + b
        counts[key] = get(key, 0) + 1
    return counts


def weighted(counts: dict[str, int], idf: dict[str, float]) -> dict[str, float]:
    """Sublinear tf-idf, L2-normalised, over known features only (the training script uses this
    very function to build its matrix, so runtime and training cannot disagree)."""
    vec: dict[str, float] = {}
    for k, c in counts.items():
        f = idf.get(k)
        if f is not None:
            vec[k] = (1.0 + math.log(c)) * f
    norm = math.sqrt(sum(v * v for v in vec.values()))
    if norm > 0.0:
        for k in vec:
            vec[k] /= norm
    return vec


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


_lock = threading.Lock()
_model: RiskModel | None = None


def load_model() -> RiskModel:
    """Load the shipped weights once per process; later calls return the same object."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                raw = resources.files("intake.screening").joinpath("data/risk_model.json")
                _model = RiskModel.from_dict(json.loads(raw.read_text("utf-8")))
    return _model


def _readable(feature: str) -> str:
    return '"' + feature.partition(":")[2] + '"'


def _known_features(word: str, model: RiskModel) -> tuple[str, ...]:
    """A word's features that the model knows, memoised per model: most words of a message
    ("the", "my", "mum") have been seen before, and this is where scoring spends its time."""
    cache = model.word_cache
    known = cache.get(word)
    if known is None:
        feats = model.features
        known = tuple(k for k in _word_features(word) if k in feats)
        if len(cache) >= WORD_CACHE_MAX:
            cache.clear()
        cache[word] = known
    return known


def _known_counts(text: str, model: RiskModel) -> dict[str, int]:
    """Counts of the features of `text` that the model knows (same as `extract`, filtered)."""
    feats = model.features
    words = normalise(text).split()
    counts: dict[str, int] = {}
    get = counts.get
    for w in words:
        for k in _known_features(w, model):
            counts[k] = get(k, 0) + 1
    for x, y in pairwise(words):
        k = "b:" + x + " " + y
        if k in feats:
            counts[k] = get(k, 0) + 1
    return counts


def _score_counts(counts: dict[str, int], model: RiskModel) -> RiskScore:
    feats = model.features
    z_e = z_u = sq = 0.0
    vec: list[tuple[float, str]] = []
    for k, c in counts.items():
        idf, w_e, w_u = feats[k]
        v = (1.0 + math.log(c)) * idf if c > 1 else idf
        sq += v * v
        z_e += w_e * v
        z_u += w_u * v
        if k[0] != "c" and (w_e > 0.0 or w_u > 0.0):
            vec.append((max(w_e, w_u) * v, k))
    norm = math.sqrt(sq) or 1.0
    top = [k for _, k in heapq.nlargest(3, vec)]
    return RiskScore(_sigmoid(model.intercept_emergency + z_e / norm),
                     _sigmoid(model.intercept_urgent + z_u / norm),
                     [_readable(k) for k in top])


def score(text: str, model: RiskModel) -> RiskScore:
    """Score with an explicit model (tests and the training script pass their own). Same
    arithmetic as `weighted(extract(text), idf)`, restricted to known features up front."""
    return _score_counts(_known_counts(text, model), model)


def _category_probabilities(counts: dict[str, int], model: RiskModel) -> list[float]:
    """Every category head's probability, in `model.category_names` order."""
    feats = model.features
    cw = model.category_weights
    z = [0.0] * len(model.category_names)
    sq = 0.0
    for k, c in counts.items():
        idf = feats[k][0]
        v = (1.0 + math.log(c)) * idf if c > 1 else idf
        sq += v * v
        for i, w in cw.get(k, ()):
            z[i] += w * v
    norm = math.sqrt(sq) or 1.0
    return [_sigmoid(b + zi / norm) for b, zi in zip(model.category_intercepts, z, strict=True)]


def _categories_from_counts(counts: dict[str, int],
                            model: RiskModel) -> tuple[tuple[str, float], ...]:
    probs = _category_probabilities(counts, model)
    hits = [(name, p) for name, p, t in zip(model.category_names, probs,
                                            model.category_thresholds, strict=True) if p >= t]
    return tuple(sorted(hits, key=lambda h: (-h[1], h[0])))


def category_scores(text: str, model: RiskModel) -> list[tuple[str, float]]:
    """Every shipped category head's probability for `text`, thresholds not applied (the
    training script checks the runtime against sklearn with this)."""
    probs = _category_probabilities(_known_counts(text, model), model)
    return list(zip(model.category_names, probs, strict=True))


def categories(text: str) -> list[tuple[str, float]]:
    """Safeguarding categories whose head passes its threshold, as (name, probability), most
    probable first. Not gated: `opinion` decides when these are worth computing."""
    model = load_model()
    return list(_categories_from_counts(_known_counts(text, model), model))


def risk(text: str) -> RiskScore:
    """Probabilities that `text` is an emergency, and at least urgent, with the (up to three)
    words or word pairs that pushed them up most; character n-grams count but are not shown."""
    return score(text, load_model())


def _raise(urgency: str, r: RiskScore, model: RiskModel) -> tuple[str, str | None]:
    raised = urgency
    if r.p_emergency >= model.threshold_emergency:
        raised = "emergency"
        p = r.p_emergency
    elif urgency == "routine" and r.p_urgent_or_more >= model.threshold_urgent:
        raised = "urgent"
        p = r.p_urgent_or_more
    if raised == urgency:
        return urgency, None
    why = ", ".join(r.top_features) or "spelling patterns, no single word"
    return raised, f"model: {raised} (p={p:.2f}) from {why}"


def second_opinion(urgency: str, text: str) -> tuple[str, str | None]:
    """Return (urgency, review reason). The urgency is never lower than the one given; the
    reason is None unless the model raised it."""
    if urgency not in URGENCY_RANK:
        raise ValueError(f"unknown urgency {urgency!r}")
    if urgency == "emergency":
        return urgency, None
    model = load_model()
    return _raise(urgency, score(text, model), model)


def opinion(urgency: str, text: str, lexicon_categories: Collection[str]) -> Opinion:
    """The second opinion on urgency, plus categories when the message ends up urgent or
    emergency and the lexicon named no category (the only case where the queue would otherwise
    show a raised message with no kind of harm). The text is featurised once for both."""
    if urgency not in URGENCY_RANK:
        raise ValueError(f"unknown urgency {urgency!r}")
    if urgency == "emergency" and lexicon_categories:
        return Opinion(urgency)
    model = load_model()
    counts = _known_counts(text, model)
    raised, reason = urgency, None
    if urgency != "emergency":
        raised, reason = _raise(urgency, _score_counts(counts, model), model)
    if raised == "routine" or lexicon_categories or not model.category_names:
        return Opinion(raised, reason)
    return Opinion(raised, reason, _categories_from_counts(counts, model))
