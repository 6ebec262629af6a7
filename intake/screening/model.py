"""The learned part of screening: a calibrated model that weighs the words and the lexicon.

Why: the phrase lexicon catches the wording it was written for; on text written by someone
else it found under half of the emergencies and raised a fifth of routine messages with hard
negatives ("this form is killing me", past abuse with a practical request). A linear model over
words, word pairs, character n-grams and the lexicon's own findings generalises further and
learns when a lexicon hit is a false alarm. It is trained offline (`scripts/train_risk_model.py`,
scikit-learn, leave-one-set-out cross-validation over every labelled set) and shipped as
weights in `data/risk_model.json`; scoring here is pure Python so the service needs no numpy.

Heads (logistic regression, Platt-calibrated on out-of-fold scores, so p is a probability):
`p_emergency` (emergency vs not), `p_urgent_or_more` (urgent or emergency vs routine), and one
per safeguarding category.

Decision (`decide`, thresholds from the JSON "policy", chosen out of fold to keep routine
raised <= 0.08 and urgent raised to emergency <= 0.10 while maximising emergency recall):
- emergency when p_emergency >= t_emergency and p_urgent_or_more >= t_emergency_gate in a
  message of at most SHORT_WORDS words, or >= t_emergency_gate_long in a longer one (an
  emergency is also urgent-or-more, so the two heads must agree: one word such as "sorry" must
  not carry a bare line, nor "afternoon" and "food bank" a missed-call text, p_emergency 0.29
  with p_urgent_or_more 0.02, blind batch 19); urgent when p_urgent_or_more >= t_urgent; for
  a message the lexicon read as another language than English, t_emergency_foreign and
  t_urgent_foreign (`is_foreign`), never lower than the English ones; a message whose
  p_emergency passes t_emergency but which the gate or a reassurance keeps from emergency is
  urgent when p_urgent_or_more >= t_emergency_floor_gate (the emergency head is not ignored
  altogether unless the urgent head all but rules the message out);
- the lexicon is a floor: its emergency stays emergency unless p_emergency is below
  t_lexicon_emergency_down, and then it is still urgent (never routine); an emergency from a
  rule marked `firm` (an overdose taken) is never lowered; its urgent stays
  unless p_urgent_or_more < t_lexicon_urgent_down; a review reason from the lexicon (a language
  with no word list, the safety net) is never lowered, nor a statutory clock below urgent
  (`held_floor`);
- a pharmacy's or surgery's notice in which the lexicon found nothing else (`is_notice`) is
  never raised by the model, and a message whose sender says it can wait or that they are all
  right (`is_reassured`) is never made an emergency by the model.
Every change the model makes is written into `needs_review` with its probability and the words
that weighed most (never stop-words), so an advocate can see a model, not a phrase, decided.

Categories (`_categories`): none for a routine result; for a raised one, the lexicon's unless
that category's head finds it unlikely (p below its out-of-fold "drop" threshold: the model
learns that "tell my kids" is not `child`), plus every category whose head passes its "add"
threshold; a raised result that would otherwise have none keeps the likeliest of the
lexicon's categories, or else gets the likeliest head's. The model also weighs who is involved
(`lexicon_features`: the lexicon's actor cues as conjunctions with what it found).
"""

from __future__ import annotations

import heapq
import json
import math
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

from intake.screening import cache as compiled_cache
from intake.screening.normalise import MARKS, fold_latin
from intake.screening.result import ScreeningResult

URGENCY_RANK = {"routine": 0, "urgent": 1, "emergency": 2}
_URGENCY_NAME = {v: k for k, v in URGENCY_RANK.items()}
CHAR_NGRAMS = (3, 4)
WORD_CACHE_MAX = 50_000
LENGTH_BUCKETS = (1, 3, 6, 12, 25, 60, 1 << 30)  # words; shape_features' buckets
SHORT_WORDS = 6  # a message this short needs the urgent head to agree to an emergency
LEXICON_CATEGORY_FLOOR = 0.05  # a lexicon category the model finds less likely than this goes
# Cue sections (lexicon "cue.<x>", other languages' "<lang>.<x>") naming who is involved.
ACTOR_ROLES = {"partner": "partner", "family": "family", "staff": "staff", "child": "child",
               "young_child": "child", "teen": "child", "abuse": "abuse"}

_APOSTROPHES = re.compile(r"['’‘`´]")
_REPEATS = re.compile(r"(.)\1{2,}")
_DIGITS = re.compile(r"\d")
# A run of seven digits or more (spaces or hyphens between): a phone, NHS or case number. It
# says who to call, not how urgent: round 7's model had learnt "00000 000000" as a sign of an
# emergency, and read "please help, this is Sam again, text me on 07700 900123" as one.
_LONG_NUMBER = re.compile(r"\+?\d(?:[ \-]?\d){6,}")
_NON_WORD = re.compile(rf"(?:[^\w{MARKS}]|_)+")


@dataclass(frozen=True, slots=True)
class RiskScore:
    """Calibrated probabilities and the (up to three) words or word pairs that raised them."""

    p_emergency: float
    p_urgent_or_more: float
    top_features: list[str] = field(default_factory=list)
    n_words: int = 0  # words of the normalised text (the emergency gate applies to short ones)


@dataclass(frozen=True, slots=True)
class Opinion:
    """The final urgency and categories, and the review reason when the model changed either."""

    urgency: str
    reason: str | None = None
    categories: tuple[str, ...] = ()
    added: tuple[tuple[str, float], ...] = ()  # categories the model added, with p


@dataclass(frozen=True, slots=True)
class RiskModel:
    """Weights as loaded from JSON: feature -> (idf, emergency weight, urgent weight), and per
    feature its non-negligible category weights as (index into category_names, weight)."""

    features: dict[str, tuple[float, float, float]]
    intercept_emergency: float
    intercept_urgent: float
    calibration: tuple[float, float, float, float]  # a_e, b_e, a_u, b_u
    policy: dict[str, float]
    meta: dict[str, Any]
    category_names: tuple[str, ...] = ()
    category_intercepts: tuple[float, ...] = ()
    category_thresholds: tuple[float, ...] = ()
    category_drop: tuple[float, ...] = ()  # a lexicon category goes below this p
    category_calibration: tuple[tuple[float, float], ...] = ()
    category_weights: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict,
                                                                        repr=False)
    word_cache: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False,
                                                   compare=False)

    @property
    def threshold_emergency(self) -> float:
        return self.policy["t_emergency"]

    @property
    def threshold_urgent(self) -> float:
        return self.policy["t_urgent"]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RiskModel:
        """Format 3 (columns: features {"names", "idf", "emergency", "urgent"}, category
        weights {"index", "w"} into names) as `scripts/train_risk_model.py` writes it; format 2
        ({"feature": [idf, w_e, w_u]}, weights {"feature": w}) is still read."""
        heads = sorted(data.get("categories", {}).items())
        raw = data["features"]
        if "names" in raw:
            names = raw["names"]
            features = dict(zip(names, zip(raw["idf"], raw["emergency"], raw["urgent"],
                                           strict=True), strict=True))
        else:
            names = []
            features = {k: (v[0], v[1], v[2]) for k, v in raw.items()}
        by_feature: dict[str, list[tuple[int, float]]] = {}
        for i, (_, head) in enumerate(heads):
            weights = head["weights"]
            pairs = (zip((names[j] for j in weights["index"]), weights["w"], strict=True)
                     if "index" in weights else weights.items())
            for k, w in pairs:
                by_feature.setdefault(k, []).append((i, float(w)))
        cal = data["calibration"]
        return cls(
            features=features,
            intercept_emergency=float(data["intercept"]["emergency"]),
            intercept_urgent=float(data["intercept"]["urgent"]),
            calibration=(*map(float, cal["emergency"]), *map(float, cal["urgent"])),
            policy={k: float(v) for k, v in data["policy"].items()},
            meta=dict(data.get("meta", {})),
            category_names=tuple(name for name, _ in heads),
            category_intercepts=tuple(float(h["intercept"]) for _, h in heads),
            category_thresholds=tuple(float(h["threshold"]) for _, h in heads),
            category_drop=tuple(float(h.get("drop", LEXICON_CATEGORY_FLOOR)) for _, h in heads),
            category_calibration=tuple((float(h["calibration"][0]), float(h["calibration"][1]))
                                       for _, h in heads),
            category_weights={k: tuple(v) for k, v in by_feature.items()},
        )


def normalise(text: str) -> str:
    """One canonical form for training and scoring alike: any drift between them is a bug.

    Lower case, Latin diacritics folded ("zabić" = "zabic"), apostrophes dropped, phone and
    record numbers (7+ digits) dropped, runs of 3+ characters cut to 2, other digits to 0;
    letters of every script are kept with their vowel signs.
    """
    t = _APOSTROPHES.sub("", fold_latin(text.lower()))
    t = _LONG_NUMBER.sub(" ", t)
    t = _REPEATS.sub(r"\1\1", t)
    t = _DIGITS.sub("0", t)
    return _NON_WORD.sub(" ", t).strip()


def lexicon_features(lexicon: ScreeningResult | None) -> dict[str, int]:
    """What the lexicon found, as features the model weighs alongside the words: its urgency,
    categories, the rules that fired (section ids up to the first dot), whether something was
    negated, and a review reason. The model learns how far to trust each on text nobody tuned
    the lexicon on."""
    if lexicon is None:
        return {}
    out = {"l:u=" + lexicon.urgency: 1}
    for c in lexicon.safeguarding:
        out["l:c=" + c] = 1
    for m in lexicon.matches:
        rule = m.rule.split("~")[0]
        out["l:r=" + rule.split(".")[0]] = 1
        out["l:s=" + rule] = 1  # the section or rule itself: some are far surer than others
    if lexicon.negated:
        out["l:negated"] = 1
    if lexicon.needs_review:
        out["l:review"] = 1
    if lexicon.language and lexicon.language != "en":
        out["l:non_english"] = 1
    roles = sorted({ACTOR_ROLES[c] for c in
                    (cue.partition(".")[2] for cue in lexicon.cues) if c in ACTOR_ROLES})
    # Who is in the message, and with what: a linear model cannot form "a family member AND
    # violence" from the words alone, yet that conjunction is what makes abuse `domestic`
    # (by a service: `organisational`; with a child present: `child`). Care and Support
    # Statutory Guidance 14.17 defines the categories by who did it and to whom.
    # Only the conjunctions: a partner or a ward named with no harm found says nothing about a
    # category ("they want to discharge my husband tomorrow" is not `domestic`).
    for i, role in enumerate(roles):
        for kind in lexicon.safeguarding:
            out[f"l:x={role}&{kind}"] = 1
        for other in roles[i + 1:]:
            out[f"l:x={role}&{other}"] = 1
    return out


def shape_features(words: list[str]) -> dict[str, int]:
    """How much text there is, as features: with few words, one strong word ("garage") would
    otherwise carry the whole L2-normalised vector; these let the model learn that a bare
    subject line or a one-word reply is weak evidence either way."""
    n = len(words)
    bucket = next(b for b in LENGTH_BUCKETS if n <= b)
    return {f"n:<={bucket}": 1}


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


def extract(text: str, lexicon: ScreeningResult | None = None) -> dict[str, int]:
    """Raw feature counts. Prefixes keep the kinds apart: w: word, b: bigram, c: chars,
    l: the lexicon's findings (`lexicon_features`)."""
    words = normalise(text).split()
    counts: dict[str, int] = lexicon_features(lexicon)
    counts.update(shape_features(words))
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


def _read_model() -> RiskModel:
    raw = resources.files("intake.screening").joinpath("data/risk_model.json")
    return RiskModel.from_dict(json.loads(raw.read_text("utf-8")))


def load_model() -> RiskModel:
    """Load the shipped weights once per process; later calls return the same object."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = compiled_cache.load_or_build("model", _read_model)
    return _model


@cache
def _stop_words() -> frozenset[str]:
    """Words never shown as a reason ("from \"of\"" explains nothing): the English function
    words of data/languages.toml plus a few more."""
    import tomllib

    text = resources.files("intake.screening").joinpath("data", "languages.toml")
    data = tomllib.loads(text.read_text("utf-8"))
    return frozenset(data["english"].split()) | frozenset(data.get("stop_words", "").split())


def _readable(feature: str) -> str | None:
    """A feature as an advocate can read it, or None for one that explains nothing."""
    kind, _, value = feature.partition(":")
    if kind == "l":
        return None  # the lexicon's own matches are shown as matches
    words = value.split()
    stop = _stop_words()
    if not words or all(w in stop or len(w) < 3 for w in words):
        return None
    return '"' + value + '"'


def _known_features(word: str, model: RiskModel) -> tuple[str, ...]:
    """A word's features that the model knows, memoised per model: most words of a message
    ("the", "my", "mum") have been seen before, and this is where scoring spends its time."""
    cache_ = model.word_cache
    known = cache_.get(word)
    if known is None:
        feats = model.features
        known = tuple(k for k in _word_features(word) if k in feats)
        if len(cache_) >= WORD_CACHE_MAX:
            cache_.clear()
        cache_[word] = known
    return known


def _known_counts(text: str, model: RiskModel, lexicon: ScreeningResult | None,
                  words: list[str] | None = None) -> dict[str, int]:
    """Counts of the features of `text` that the model knows (same as `extract`, filtered);
    `words`: `normalise(text).split()` when the caller has it already."""
    feats = model.features
    if words is None:
        words = normalise(text).split()
    counts: dict[str, int] = {k: v for k, v in (lexicon_features(lexicon)
                                                | shape_features(words)).items() if k in feats}
    get = counts.get
    for w in words:
        for k in _known_features(w, model):
            counts[k] = get(k, 0) + 1
    for x, y in pairwise(words):
        k = "b:" + x + " " + y
        if k in feats:
            counts[k] = get(k, 0) + 1
    return counts


def _vector(counts: dict[str, int], model: RiskModel) -> tuple[dict[str, float], float]:
    feats = model.features
    vec: dict[str, float] = {}
    sq = 0.0
    for k, c in counts.items():
        idf = feats[k][0]
        v = (1.0 + math.log(c)) * idf if c > 1 else idf
        vec[k] = v
        sq += v * v
    return vec, math.sqrt(sq) or 1.0


def _score_vector(vec: dict[str, float], norm: float, model: RiskModel,
                  n_words: int = 0) -> RiskScore:
    """Probabilities and the words that raised them (the door's quick screen, which needs only
    the decision, uses `_quick_score`)."""
    feats = model.features
    z_e = z_u = 0.0
    shown: list[tuple[float, str]] = []
    for k, v in vec.items():
        _, w_e, w_u = feats[k]
        z_e += w_e * v
        z_u += w_u * v
        if k[0] in "wb" and (w_e > 0.0 or w_u > 0.0):
            shown.append((max(w_e, w_u) * v, k))
    a_e, b_e, a_u, b_u = model.calibration
    p_e = _sigmoid(a_e * (model.intercept_emergency + z_e / norm) + b_e)
    p_u = _sigmoid(a_u * (model.intercept_urgent + z_u / norm) + b_u)
    top: list[str] = []
    for _, k in heapq.nlargest(12, shown):
        r = _readable(k)
        if r is not None and r not in top:
            top.append(r)
        if len(top) == 3:
            break
    return RiskScore(p_e, p_u, top, n_words)


def score(text: str, model: RiskModel, lexicon: ScreeningResult | None = None) -> RiskScore:
    """Score with an explicit model (tests and the training script pass their own). Same
    arithmetic as `weighted(extract(text, lexicon), idf)`, restricted to known features."""
    vec, norm = _vector(_known_counts(text, model, lexicon), model)
    return _score_vector(vec, norm, model, len(normalise(text).split()))


def _category_probabilities(vec: dict[str, float], norm: float,
                            model: RiskModel) -> list[float]:
    cw = model.category_weights
    z = list(model.category_intercepts)
    for k, v in vec.items():
        for i, w in cw.get(k, ()):
            z[i] += w * v / norm
    return [_sigmoid(a * zi + b)
            for zi, (a, b) in zip(z, model.category_calibration, strict=True)]


def category_scores(text: str, model: RiskModel,
                    lexicon: ScreeningResult | None = None) -> list[tuple[str, float]]:
    """Every category head's calibrated probability for `text`, thresholds not applied."""
    vec, norm = _vector(_known_counts(text, model, lexicon), model)
    return list(zip(model.category_names, _category_probabilities(vec, norm, model),
                    strict=True))


def risk(text: str, lexicon: ScreeningResult | None = None) -> RiskScore:
    """Probabilities that `text` is an emergency, and at least urgent, with the (up to three)
    words or word pairs that pushed them up most (never stop-words or character n-grams)."""
    return score(text, load_model(), lexicon)


def firm_floor(lexicon: ScreeningResult) -> int:
    """The urgency rank (0 routine, 1 urgent, 2 emergency) below which the model may not take
    this result: the highest urgency of its matches from a rule or section marked `firm` (an
    overdose taken is an emergency; an abuse disclosed as happening now is at least urgent),
    never above what the lexicon itself found. 0 when nothing firm matched."""
    from intake.screening.lexicon import get

    firm = get().firm_urgency
    rank = 0
    for m in lexicon.matches:
        u = firm.get(m.rule.split("~")[0])
        if u is not None:
            rank = max(rank, URGENCY_RANK[u])
    return min(rank, URGENCY_RANK[lexicon.urgency])


def is_firm(lexicon: ScreeningResult) -> bool:
    """Whether the lexicon's emergency rests on a rule marked `firm` in rules.toml (an act
    already done, such as an overdose taken), which the model never lowers."""
    return firm_floor(lexicon) == 2


NOTICE_CUE = "notice.service"


def is_notice(lexicon: ScreeningResult) -> bool:
    """Whether the lexicon reads the message as a pharmacy's, surgery's or service's notice
    ("your repeat prescription is ready to collect ... open till six tonight") and found nothing
    else in it: the model then does not raise it for its words (issue 13: a "prescription
    ready" voicemail is not raised; blind batch 11 had one raised to emergency by "tonight")."""
    return (lexicon.urgency == "routine" and lexicon.needs_review is None
            and NOTICE_CUE in lexicon.cues)


REASSURED_CUE = "cue.reassured"


def is_reassured(lexicon: ScreeningResult) -> bool:
    """Whether the sender says the matter can wait or that they are all right ("not urgent",
    "no rush", "I'm quite all right, just nosy") and the lexicon found no emergency: the model
    then does not make the message an emergency for its words (it may still call it urgent).
    Round 11, blind batches 25 to 27: "sorry its 2am ... can we move tmrws meeting ... not
    urgent" and "not in a bad way tonight promise" were raised to emergency by "0am" and
    "tonight"; in the labelled sets 161 of 179 messages with such words are routine and both
    emergencies among them are read by the lexicon itself (lexicon.toml `cue.reassured`)."""
    return lexicon.urgency != "emergency" and REASSURED_CUE in lexicon.cues


def held_floor(lexicon: ScreeningResult) -> int:
    """The urgency rank (0 routine, 1 urgent, 2 emergency) the model may never take this result
    below: all of it when the lexicon sent the message for review (a language with no word
    list, the safety net: a person decides); urgent for a statutory matter the lexicon found
    live (a detention, a tribunal, discharge, eviction or decision within days, an end-of-life
    wish overruled: law, not a guess; a detained person's tribunal window is 14 days under
    section 2, Mental Health Act 1983 s66); else `firm_floor`. Questions, forms, hypotheticals
    and outcomes already reached are negated by the lexicon's contexts before this (training
    set I: 11 of its 32 routine messages raised named a detention that way). Round 7 let the
    model lower a bare detention mention, and it then read "my brother is on a section 3 and
    wants to appeal to the tribunal" as routine (p 0.01): writers label such requests routine,
    the service does not. The trainer holds the same floor."""
    lex = URGENCY_RANK[lexicon.urgency]
    if lexicon.needs_review is not None:
        return lex
    floor = firm_floor(lexicon)
    if lex >= 1 and any(m.category == "statutory" for m in lexicon.matches):
        floor = max(floor, 1)
    return floor


def is_foreign(lexicon: ScreeningResult) -> bool:
    """Whether the lexicon read the message as another language than English. The model saw
    few such messages, and writers put their gravest ones in other languages, so its own words
    ("que", "amar", "hadda", "mae") lean towards raising; a message in another language is
    raised only past `t_emergency_foreign` and `t_urgent_foreign`, chosen out of fold like
    every threshold (blind batch 14 and training sets I and J: Kurdish, Farsi, Albanian,
    Spanish and Somali urgent messages raised to emergency by function words, Welsh and
    Somali routine ones to urgent; out of fold in round 6 the model alone raised 17% of
    routine messages in other languages and 6% in English)."""
    return lexicon.language is not None and lexicon.language != "en"


def decide(lexicon: ScreeningResult, r: RiskScore, model: RiskModel) -> str:
    """The final urgency from the lexicon's result and the model's score (module docstring)."""
    if is_notice(lexicon):
        return "routine"
    pol = model.policy
    gate = pol.get("t_emergency_gate", 0.0) if r.n_words <= SHORT_WORDS \
        else pol.get("t_emergency_gate_long", 0.0)
    t_e, t_u = pol["t_emergency"], pol["t_urgent"]
    if is_foreign(lexicon):
        t_e = max(t_e, pol.get("t_emergency_foreign", t_e))
        t_u = max(t_u, pol.get("t_urgent_foreign", t_u))
    emergency = (r.p_emergency >= t_e and r.p_urgent_or_more >= gate
                 and not is_reassured(lexicon))
    # The gate and a reassurance decide between emergency and urgent, not routine: an
    # emergency head past its threshold is a person's to read (round 12 read "pills in my
    # hand", p_emergency 0.46 and p_urgent 0.25, as routine once its short-message gate rose;
    # rounds 9 to 12 read 1 to 3 emergencies per 165 as routine on fresh text, each quiet).
    # Unless the urgent head all but rules it out: a bare "sorry" has p_emergency 0.54 and
    # p_urgent 0.002, "my phone died, sorry" 0.45 and 0.05 (t_emergency_floor_gate; a model
    # file without it keeps the old policy).
    lifted = (r.p_emergency >= t_e
              and r.p_urgent_or_more >= pol.get("t_emergency_floor_gate", 2.0))
    rank = 2 if emergency else (1 if r.p_urgent_or_more >= t_u or lifted else 0)
    lex = URGENCY_RANK[lexicon.urgency]
    held = held_floor(lexicon)
    if lex == 2:
        floor = 2 if r.p_emergency >= pol["t_lexicon_emergency_down"] else max(1, held)
    elif lex == 1:
        floor = 1 if r.p_urgent_or_more >= pol["t_lexicon_urgent_down"] else held
    else:
        floor = 0
    return _URGENCY_NAME[max(rank, floor)]  # held <= floor: held never exceeds the lexicon's


def _categories(lexicon: ScreeningResult, urgency: str, probs: dict[str, float],
                model: RiskModel) -> tuple[set[str], tuple[tuple[str, float], ...]]:
    """(categories, those the model added with p), by the trainer's CategoryPolicy: none for a
    routine result (routine rows never carry one; the lexicon's matches are still shown); a
    lexicon category stays unless its head's p < its drop threshold; the model adds a category
    whose p passes its add threshold; a raised result left with none keeps the likeliest of
    the lexicon's categories, else gets the likeliest head's category if p >= policy
    "category_fallback". Thresholds chosen out of fold."""
    if urgency == "routine":
        return set(), ()
    drop = dict(zip(model.category_names, model.category_drop, strict=True))
    add = dict(zip(model.category_names, model.category_thresholds, strict=True))
    cats = {c for c in lexicon.safeguarding if probs.get(c, 1.0) >= drop.get(c, 0.0)}
    added = sorted(((c, p) for c, p in probs.items() if p >= add[c] and c not in cats),
                   key=lambda x: (-x[1], x[0]))
    cats.update(c for c, _ in added)
    if not cats and lexicon.safeguarding:
        # A disclosure the lexicon named keeps a name: the model may swap a kind, not erase
        # every kind ("she keeps being abused" is raised; the advocate needs a category).
        cats.add(max(lexicon.safeguarding, key=lambda c: (probs.get(c, 0.0), c)))
    fallback = model.policy.get("category_fallback", 2.0)
    if not cats and probs:
        c, p = max(probs.items(), key=lambda x: (x[1], x[0]))
        if p >= fallback:
            cats.add(c)
            added.append((c, p))
    return cats, tuple((c, p) for c, p in added if c not in lexicon.safeguarding)


def final_urgency(lexicon: ScreeningResult, text: str) -> str:
    """`opinion(lexicon, text).urgency` without the category heads (most of the model's time)
    or the reasons: the same features, scores and `decide`, so the two can never disagree (a
    test holds them equal on the first 30 messages of every labelled set)."""
    model = load_model()
    words = normalise(text).split()
    return decide(lexicon, _quick_score(_known_counts(text, model, lexicon, words), model,
                                        len(words)), model)


def _quick_score(counts: dict[str, int], model: RiskModel, n_words: int) -> RiskScore:
    """`_score_vector(*_vector(counts, model))` without the words, in one pass and no vector:
    the same sums in the same order, so the same floats (the door's quick screen runs this)."""
    feats = model.features
    log = math.log
    z_e = z_u = sq = 0.0
    for k, c in counts.items():
        idf, w_e, w_u = feats[k]
        v = (1.0 + log(c)) * idf if c > 1 else idf
        sq += v * v
        z_e += w_e * v
        z_u += w_u * v
    norm = math.sqrt(sq) or 1.0
    a_e, b_e, a_u, b_u = model.calibration
    return RiskScore(_sigmoid(a_e * (model.intercept_emergency + z_e / norm) + b_e),
                     _sigmoid(a_u * (model.intercept_urgent + z_u / norm) + b_u), [], n_words)


def opinion(lexicon: ScreeningResult, text: str) -> Opinion:
    """The final urgency and categories for `text` given the lexicon's result on it."""
    model = load_model()
    words = normalise(text).split()
    vec, norm = _vector(_known_counts(text, model, lexicon, words), model)
    r = _score_vector(vec, norm, model, len(words))
    urgency = decide(lexicon, r, model)
    reasons: list[str] = []
    if urgency != lexicon.urgency:
        p = r.p_emergency if urgency == "emergency" or lexicon.urgency == "emergency" \
            else r.p_urgent_or_more
        verb = "raised" if URGENCY_RANK[urgency] > URGENCY_RANK[lexicon.urgency] else "lowered"
        why = ", ".join(r.top_features) or "spelling patterns and context, no single word"
        if verb == "raised":
            reasons.append(f"model: {urgency} (p={p:.2f}) from {why}")
        else:
            reasons.append(f"model: lowered {lexicon.urgency} to {urgency} (p={p:.2f}); "
                           "the matched phrases read as a false alarm here")
    probs = dict(zip(model.category_names, _category_probabilities(vec, norm, model),
                     strict=True))
    cats, added = _categories(lexicon, urgency, probs, model)
    if added:
        reasons.append("model categories: " + ", ".join(f"{c} (p={p:.2f})" for c, p in added))
    return Opinion(urgency, "; ".join(reasons) or None, tuple(sorted(cats)), added)
