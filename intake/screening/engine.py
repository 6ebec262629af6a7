"""The screening engine: normalise, find phrases, apply context, combine, decide urgency."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from intake.screening import language
from intake.screening.lexicon import (
    CATEGORIES,
    PREFIX_LEN,
    URGENCY_RANK,
    Context,
    Lexicon,
    Rule,
    get,
)
from intake.screening.normalise import NormText
from intake.screening.result import Match, Negated, ScreeningResult

_SAFEGUARDING = frozenset(CATEGORIES)
_DIGIT = re.compile(r"\d")
REVIEW_PREFIX = "review."  # lexicon sections read only by the safety net
SAFETY_NET_MIN = 2  # review sections (danger, distress) that must each have a live phrase
_URGENCY_NAME = {v: k for k, v in URGENCY_RANK.items()}


@dataclass(slots=True)
class Hit:
    """A phrase found in the normalised text (character span s..e, word span ti..tj)."""

    source: str  # section id or rule id
    category: str
    urgency: str
    s: int
    e: int
    ti: int
    tj: int
    live: bool = True
    capped: bool = False
    keys: frozenset[str] = frozenset()

    def index(self) -> None:
        """Precompute the rule keys this hit satisfies: id, id prefixes, "@category"."""
        parts = self.source.split(".")
        keys = {self.source, "@" + self.category} if self.category else {self.source}
        keys.update(".".join(parts[:i]) + "." for i in range(1, len(parts)))
        self.keys = frozenset(keys)


def _find(lex: Lexicon, nt: NormText) -> list[Hit]:
    hits: list[Hit] = []
    ts = nt.token_starts
    text = nt.text
    # Words, their first letters (for prefix anchors "punc*") and whether any digit occurs.
    present = set(nt.words)
    present.update([w[:PREFIX_LEN] + "*" for w in present if len(w) >= PREFIX_LEN])
    if _DIGIT.search(text):
        present.add("#digit")
    for sec in lex.sections:
        if sec.anchors is not None and sec.anchors.isdisjoint(present):
            continue
        for m in sec.regex.finditer(text):
            s, e = m.span()
            if s == e:
                continue
            hits.append(Hit(sec.id, sec.category, sec.urgency, s, e,
                            bisect_right(ts, s) - 1, bisect_right(ts, e - 1) - 1))
    return hits


def _window(nt: NormText, lo: int, hi: int, step: int, breaks: frozenset[str]) -> str:
    """Words from index lo towards hi (exclusive; step +1 or -1), stopping at a break word."""
    words = nt.words
    out: list[str] = []
    i = lo
    while i != hi and 0 <= i < len(words):
        w = words[i]
        if w in breaks:
            break
        out.append(w)
        i += step
    if step < 0:
        out.reverse()
    return " ".join(out)


def _context_hits(ctx: Context, hit: Hit, nt: NormText, lex: Lexicon,
                  spans: list[tuple[int, int]], message_hit: bool) -> bool:
    if ctx.applies_to and not hit.source.startswith(ctx.applies_to):
        return False
    if ctx.window == "overlap":
        return any(a < hit.e and hit.s < b for a, b in spans)
    if ctx.window == "message":
        return message_hit
    if ctx.cues is None:
        return False
    breaks = lex.clause_breaks if ctx.window == "clause" else lex.sentence_breaks
    if ctx.before:
        before = _window(nt, hit.ti - 1, hit.ti - 1 - ctx.before, -1, breaks)
        if before and ctx.cues.search(before):
            if ctx.unless is None:
                return True
            wider = _window(nt, hit.ti - 1, hit.ti - 1 - ctx.before - 2, -1, breaks)
            if not ctx.unless.search(wider):
                return True
    if ctx.after:
        after = _window(nt, hit.tj + 1, hit.tj + 1 + ctx.after, 1, breaks)
        if after and ctx.cues.search(after):
            return True
    return False


def _apply_contexts(lex: Lexicon, nt: NormText, hits: list[Hit]) -> set[str]:
    """Negate or cap hits in place; return the categories capped message-wide."""
    capped_categories: set[str] = set()
    for ctx in lex.contexts:
        if ctx.effect == "cap_category":
            if ctx.cues is not None and ctx.cues.search(nt.text):
                capped_categories.update(ctx.applies_to)
            continue
        spans: list[tuple[int, int]] = []
        message_hit = False
        if ctx.cues is not None and ctx.window in ("overlap", "message"):
            if ctx.window == "overlap":
                spans = [m.span() for m in ctx.cues.finditer(nt.text)]
                if not spans:
                    continue
            else:
                message_hit = ctx.cues.search(nt.text) is not None
                if not message_hit:
                    continue
        elif ctx.cues is not None and ctx.cues.search(nt.text) is None:
            continue  # a cue absent from the whole message is absent from every window
        for hit in hits:
            if not hit.live:
                continue
            if _context_hits(ctx, hit, nt, lex, spans, message_hit):
                if ctx.effect == "negate":
                    hit.live = False
                elif ctx.effect == "cap_urgent":
                    hit.capped = True
    return capped_categories


def _distance(a: Hit, b: Hit) -> int:
    return max(0, b.ti - a.tj, a.ti - b.tj)


def _apply_rule(rule: Rule, live: list[Hit]) -> Hit | None:
    groups = [[h for h in live if not h.keys.isdisjoint(g)] for g in rule.groups]
    if any(not g for g in groups):
        return None
    for anchor in groups[0]:
        chosen = [anchor]
        for g in groups[1:]:
            near = [h for h in g if h is not anchor and _distance(anchor, h) <= rule.window]
            if not near:
                break
            chosen.append(min(near, key=lambda h: _distance(anchor, h)))
        else:
            category = rule.category or anchor.category
            return Hit(rule.id, category, rule.urgency,
                       min(h.s for h in chosen), max(h.e for h in chosen),
                       min(h.ti for h in chosen), max(h.tj for h in chosen))
    return None


def _drop_fallback(live: list[Hit], fallback_ids: frozenset[str]) -> list[Hit]:
    """Fallback sections ("being abused", no kind named) give way to any specific category.

    They exist so that a disclosure is never left without a category; once a specific kind is
    found they would only add a guessed one.
    """
    if not any(h.source in fallback_ids for h in live):
        return live
    specific = any(h.category in _SAFEGUARDING and h.source not in fallback_ids for h in live)
    return [h for h in live if h.source not in fallback_ids] if specific else live


def _safety_net(nt: NormText, live: list[Hit]) -> str | None:
    """A review reason when a message no rule raised still carries two distress phrases.

    A phrase lexicon misses emergencies told in unforeseen words; the words around them
    ("bleeding", "please help", "scared") are more stable. A phrase from each of two review
    sections (danger and distress) is needed, so "is this an emergency?" stays routine.
    """
    by_section: dict[str, str] = {}
    for h in live:
        if h.source.startswith(REVIEW_PREFIX) and h.source not in by_section:
            by_section[h.source] = nt.text[h.s:h.e]
    if len(by_section) < SAFETY_NET_MIN:
        return None
    return "danger and distress words but no rule matched: " + ", ".join(
        by_section[k] for k in sorted(by_section))


def screen_text(
    text: str, channel: str | None = None, lex: Lexicon | None = None
) -> ScreeningResult:
    """Screen one message. Pure: the same text always gives the same result."""
    del channel  # reserved: channel-specific rules can be added in data later
    lex = lex or get()
    nt = lex.normalise(text)
    hits = _find(lex, nt) if nt.text else []
    capped_categories = _apply_contexts(lex, nt, hits)
    live = [h for h in hits if h.live]
    for h in live:
        h.index()
    if live:
        present: set[str] = set()
        for h in live:
            present |= h.keys
        for rule in lex.rules:
            if any(present.isdisjoint(g) for g in rule.groups):
                continue  # some group has no hit at all: the rule cannot fire
            made = _apply_rule(rule, live)
            if made is not None:
                made.index()
                live.append(made)
                present |= made.keys

    if lex.fallback_ids:
        live = _drop_fallback(live, lex.fallback_ids)

    rank = 0
    matches: dict[tuple[str, int, int], Match] = {}
    fuzzy_at = {i for i, _typed, _fixed in nt.fuzzy}
    for h in live:
        if not h.category:
            continue
        r = URGENCY_RANK[h.urgency]
        if h.capped or h.category in capped_categories:
            r = min(r, URGENCY_RANK["urgent"])
        rank = max(rank, r)
        start, end = nt.span(h.s, h.e)
        source = h.source
        if fuzzy_at and any(h.ti <= i <= h.tj for i in fuzzy_at):
            source += "~fuzzy"
        key = (h.category, start, end)
        if key not in matches:
            matches[key] = Match(h.category, text[start:end], start, end, source)
    negated: dict[tuple[int, int], Negated] = {}
    live_spans = {(m.start, m.end) for m in matches.values()}
    for h in hits:
        if h.live or not h.category:
            continue
        start, end = nt.span(h.s, h.e)
        if (start, end) not in live_spans and (start, end) not in negated:
            negated[(start, end)] = Negated(text[start:end], start, end)

    lang, review = language.detect(text, nt.alpha_tokens, nt.known_tokens)
    if review is None and rank == 0:
        review = _safety_net(nt, live)
    if review is not None:
        rank = max(rank, URGENCY_RANK["urgent"])  # unreadable to the lexicon: a person decides

    ordered = sorted(matches.values(), key=lambda m: (m.start, m.end, m.category))
    return ScreeningResult(
        urgency=_URGENCY_NAME[rank],
        safeguarding=sorted({m.category for m in ordered if m.category in _SAFEGUARDING}),
        matches=ordered,
        negated=sorted(negated.values(), key=lambda n: (n.start, n.end)),
        safe_to_contact=not any(m.category == "unsafe_contact" for m in ordered),
        needs_review=review,
        language=lang,
    )
