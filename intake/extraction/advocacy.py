"""What kind of advocacy is asked for, and in what care setting the person is.

Both are weighted keyword votes (``data/advocacy.toml``, ``data/settings.toml``): statutory types
have recognisable vocabulary (sectioned, lacks capacity, care assessment, complaint, looked
after), and a weighted vote lets strong cues ("IMCA", "section 3") outweigh incidental ones
("the council"). Run on the body only: a signature's "Mental Health NHS Trust" says nothing
about the client.
"""

from __future__ import annotations

from intake.extraction.vocab import load, score, weighted_table


def _vote(text: str, name: str) -> tuple[str | None, float, dict[str, float]]:
    data = load(name)
    priority: list[str] = data["priority"]
    scores = {kind: score(text, weighted_table(name, kind)) for kind in priority}
    best = max(priority, key=lambda k: (scores[k], -priority.index(k)))
    return (best if scores[best] > 0 else None), scores[best], scores


def _confidence(top: float, scores: dict[str, float]) -> float:
    runner_up = sorted(scores.values(), reverse=True)[1] if len(scores) > 1 else 0.0
    margin = (top - runner_up) / top if top else 0.0
    return round(min(0.95, 0.5 + 0.05 * top + 0.25 * margin), 2)


def advocacy_type(body: str) -> tuple[str, float] | None:
    """(type, confidence); "general" when help is asked for but no statutory cue is strong."""
    min_score = float(load("advocacy")["min_score"])
    scores = {k: score(body, weighted_table("advocacy", k)) for k in load("advocacy")["priority"]}
    general = scores.pop("general")
    kind, top, _ = _vote_scores(scores, load("advocacy")["priority"])
    if kind and top >= min_score:
        return kind, _confidence(top, {**scores, "general": general})
    if general > 0:
        return "general", round(min(0.8, 0.4 + 0.1 * general), 2)
    return None


def _vote_scores(
    scores: dict[str, float], priority: list[str]
) -> tuple[str | None, float, dict[str, float]]:
    ranked = [k for k in priority if k in scores]
    best = max(ranked, key=lambda k: (scores[k], -ranked.index(k)))
    return (best if scores[best] > 0 else None), scores[best], scores


def setting(body: str) -> tuple[str, float] | None:
    """(setting, confidence). A psychiatric ward is reported as mental_health, not hospital."""
    kind, top, scores = _vote(body, "settings")
    if kind is None or top < float(load("settings")["min_score"]):
        return None
    if kind == "hospital" and scores["mental_health"] > 0:
        kind, top = "mental_health", scores["mental_health"]
    return kind, _confidence(top, scores)
