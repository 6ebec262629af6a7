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
"""

from __future__ import annotations

import heapq
import json
import math
import re
import threading
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
class RiskModel:
    """Weights as loaded from JSON: feature -> (idf, emergency weight, urgent weight)."""

    features: dict[str, tuple[float, float, float]]
    intercept_emergency: float
    intercept_urgent: float
    threshold_emergency: float
    threshold_urgent: float
    meta: dict[str, Any]
    word_cache: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False,
                                                   repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RiskModel:
        return cls(
            features={k: (v[0], v[1], v[2]) for k, v in data["features"].items()},
            intercept_emergency=float(data["intercept"]["emergency"]),
            intercept_urgent=float(data["intercept"]["urgent"]),
            threshold_emergency=float(data["thresholds"]["emergency"]),
            threshold_urgent=float(data["thresholds"]["urgent"]),
            meta=dict(data.get("meta", {})),
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


def score(text: str, model: RiskModel) -> RiskScore:
    """Score with an explicit model (tests and the training script pass their own). Same
    arithmetic as `weighted(extract(text), idf)`, restricted to known features up front."""
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


def risk(text: str) -> RiskScore:
    """Probabilities that `text` is an emergency, and at least urgent, with the (up to three)
    words or word pairs that pushed them up most; character n-grams count but are not shown."""
    return score(text, load_model())


def second_opinion(urgency: str, text: str) -> tuple[str, str | None]:
    """Return (urgency, review reason). The urgency is never lower than the one given; the
    reason is None unless the model raised it."""
    if urgency not in URGENCY_RANK:
        raise ValueError(f"unknown urgency {urgency!r}")
    if urgency == "emergency":
        return urgency, None
    model = load_model()
    r = score(text, model)
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
