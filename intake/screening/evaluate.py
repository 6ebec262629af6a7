"""Evaluation of screening against a labelled set: pure functions, no I/O."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from intake.screening.lexicon import CATEGORIES
from intake.screening.result import ScreeningResult

URGENCIES = ("emergency", "urgent", "routine")
Z95 = 1.959964  # two-sided 95% normal quantile


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score 95% interval for k successes in n trials, as (low, high), rounded to 3.

    Wilson rather than k/n ± 1.96 SE: it stays inside [0, 1] and is honest for small n and for
    rates near 0 or 1, which is where screening figures live (Wilson 1927, JASA 22:209).
    n = 0 gives (0.0, 1.0): nothing is known.
    """
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
            "support": tp + fn}


def evaluate(
    records: Iterable[Mapping[str, Any]],
    screener: Callable[[str, str | None], ScreeningResult] | None = None,
) -> dict[str, Any]:
    """Screen every labelled record and score it.

    Records carry `text`, `urgency`, `safeguarding` and optionally `channel`,
    `safe_to_contact`, `needs_review`. Returns per-class precision/recall/F1, the urgency
    confusion matrix (confusion[gold][predicted]), any-safeguarding recall, per-category
    recall, the share of routine messages wrongly raised, and the misclassified records.
    """
    if screener is None:
        from intake.screening import screen as screener
    confusion = {g: dict.fromkeys(URGENCIES, 0) for g in URGENCIES}
    cat_tp = dict.fromkeys(CATEGORIES, 0)
    cat_fn = dict.fromkeys(CATEGORIES, 0)
    cat_fp = dict.fromkeys(CATEGORIES, 0)
    any_tp = any_fn = 0
    contact_total = contact_ok = review_total = review_ok = 0
    errors: list[dict[str, Any]] = []
    n = 0
    for rec in records:
        n += 1
        res = screener(rec["text"], rec.get("channel"))
        gold_u = rec["urgency"]
        confusion[gold_u][res.urgency] += 1
        gold_c = set(rec.get("safeguarding", []))
        pred_c = set(res.safeguarding)
        for c in CATEGORIES:
            if c in gold_c and c in pred_c:
                cat_tp[c] += 1
            elif c in gold_c:
                cat_fn[c] += 1
            elif c in pred_c:
                cat_fp[c] += 1
        if gold_c:
            if pred_c:
                any_tp += 1
            else:
                any_fn += 1
        if "safe_to_contact" in rec:
            contact_total += 1
            contact_ok += rec["safe_to_contact"] == res.safe_to_contact
        if "needs_review" in rec:
            review_total += 1
            review_ok += bool(rec["needs_review"]) == (res.needs_review is not None)
        if gold_u != res.urgency or (gold_c and not pred_c):
            errors.append({"text": rec["text"], "gold": gold_u, "predicted": res.urgency,
                           "gold_safeguarding": sorted(gold_c),
                           "predicted_safeguarding": sorted(pred_c)})
    per_class = {}
    for u in URGENCIES:
        tp = confusion[u][u]
        fn = sum(confusion[u].values()) - tp
        fp = sum(confusion[g][u] for g in URGENCIES) - tp
        per_class[u] = _prf(tp, fp, fn)
    routine_total = sum(confusion["routine"].values())
    raised = routine_total - confusion["routine"]["routine"]
    em_total = sum(confusion["emergency"].values())
    em_hit = confusion["emergency"]["emergency"]
    ur_total = sum(confusion["urgent"].values())
    ue_hit = (em_total + ur_total - confusion["emergency"]["routine"]
              - confusion["urgent"]["routine"])
    tp, fp, fn = sum(cat_tp.values()), sum(cat_fp.values()), sum(cat_fn.values())
    return {
        "emergency_recall_ci": [em_hit, em_total, *wilson(em_hit, em_total)],
        "emergency_as_routine": confusion["emergency"]["routine"],
        "urgent_or_emergency_recall_ci": [ue_hit, em_total + ur_total,
                                          *wilson(ue_hit, em_total + ur_total)],
        "routine_raised_ci": [raised, routine_total, *wilson(raised, routine_total)],
        "urgent_to_emergency": round(confusion["urgent"]["emergency"] / ur_total, 4)
        if ur_total else 0.0,
        "category_micro_f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0,
        "n": n,
        "per_class": per_class,
        "confusion": confusion,
        "accuracy": round(sum(confusion[u][u] for u in URGENCIES) / n, 4) if n else 0.0,
        "any_safeguarding_recall": round(any_tp / (any_tp + any_fn), 4) if any_tp + any_fn else 1.0,
        "per_category": {c: _prf(cat_tp[c], cat_fp[c], cat_fn[c]) for c in CATEGORIES},
        "routine_wrongly_raised": round(raised / routine_total, 4) if routine_total else 0.0,
        "safe_to_contact_accuracy": round(contact_ok / contact_total, 4) if contact_total else 1.0,
        "needs_review_accuracy": round(review_ok / review_total, 4) if review_total else 1.0,
        "errors": errors,
    }


def evaluate_language(records: Iterable[Mapping[str, Any]], chars: int = 160
                      ) -> dict[str, dict[str, Any]]:
    """Language identification accuracy per labelled language on the first `chars` characters
    (SMS length). Urdu, Punjabi and Bengali are split by script ("ur-Latn" = romanised).
    Returns {language: {"correct", "n", "accuracy", "ci", "confused_with"}}."""
    from intake.screening.language import identify

    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        gold = rec.get("language")
        if not gold:
            continue
        guess = identify(rec["text"][:chars])
        key = gold + ("-Latn" if gold in ("ur", "pa", "bn") and guess.script == "Latn" else "")
        row = out.setdefault(key, {"correct": 0, "n": 0, "confused_with": {}})
        row["n"] += 1
        if guess.code == gold:
            row["correct"] += 1
        else:
            other = guess.code or "none"
            row["confused_with"][other] = row["confused_with"].get(other, 0) + 1
    for row in out.values():
        row["accuracy"] = round(row["correct"] / row["n"], 4)
        row["ci"] = list(wilson(row["correct"], row["n"]))
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["n"]))
