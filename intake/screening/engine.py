"""The screening engine: normalise, find phrases, apply context, combine, decide urgency."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from intake.screening import language
from intake.screening.lexicon import (
    CATEGORIES,
    URGENCY_RANK,
    Context,
    Lexicon,
    Rule,
    get,
)
from intake.screening.matcher import leftmost_longest
from intake.screening.normalise import NormText, fold_latin
from intake.screening.result import Match, Negated, ScreeningResult

_SAFEGUARDING = frozenset(CATEGORIES)
_DIGIT = re.compile(r"\d")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
REVIEW_PREFIX = "review."  # lexicon sections read only by the safety net
SAFETY_NET_MIN = 2  # review sections (danger, distress) that must each have a live phrase
_URGENCY_NAME = {v: k for k, v in URGENCY_RANK.items()}
# Short plain-ASCII text: the detector's guess is weak evidence (see `_language`).
SHORT_WORDS = 8
SHORT_CONFIDENCE = 0.8
SHORT_ENGLISH_SHARE = 0.25


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


class Found:
    """Every trie match of one message, by label: (first word, last word) spans."""

    __slots__ = ("by_label",)

    def __init__(self, matches: list[tuple[int, int, int]]) -> None:
        by_label: dict[int, list[tuple[int, int]]] = {}
        for label, i, j in matches:
            by_label.setdefault(label, []).append((i, j))
        self.by_label = by_label

    def spans(self, label: int | None) -> list[tuple[int, int]]:
        return self.by_label.get(label, []) if label is not None else []

    def within(self, label: int | None, lo: int, hi: int) -> bool:
        """Whether a match of `label` lies wholly inside words lo..hi (inclusive)."""
        return any(lo <= i and j <= hi for i, j in self.spans(label))


def _find(lex: Lexicon, nt: NormText) -> tuple[list[Hit], Found]:
    """Live-or-not phrase hits in section order (rules pick among hits in this order), each
    section's matches leftmost-longest and non-overlapping, as a regex scan would give."""
    ts = nt.token_starts
    words = nt.words
    text = nt.text
    found = Found(lex.trie.find(words))
    present: set[str] | None = None
    hits: list[Hit] = []
    sections = lex.sections
    # Only the sections the trie found or that have patterns, in section order: most of the
    # lexicon's hundreds of sections find nothing in a given message.
    n_sections = len(sections)
    for label in sorted({lb for lb in found.by_label if lb < n_sections} | lex.pattern_labels):
        sec = sections[label]
        spans = found.by_label.get(label, [])
        if sec.patterns is not None:
            if sec.anchors is not None and present is None:
                present = set(words)
                if _DIGIT.search(text):
                    present.add("#digit")
            if sec.anchors is None or not sec.anchors.isdisjoint(present or ()):
                spans = spans + [
                    (bisect_right(ts, m.start()) - 1, bisect_right(ts, m.end() - 1) - 1)
                    for m in sec.patterns.finditer(text) if m.end() > m.start()]
        if not spans:
            continue
        for i, j in leftmost_longest(spans):
            hits.append(Hit(sec.id, sec.category, sec.urgency, ts[i], ts[j] + len(words[j]),
                            i, j))
    return hits, found


def _window(nt: NormText, start: int, limit: int, step: int, breaks: frozenset[str]) -> int:
    """The farthest word index reached from `start` going `step` (+1/-1) for at most `limit`
    words without crossing a break word; start - step when the first word is a break."""
    words = nt.words
    last = start - step
    i = start
    for _ in range(limit):
        if not 0 <= i < len(words) or words[i] in breaks:
            break
        last = i
        i += step
    return last


def _context_hits(ctx: Context, hit: Hit, nt: NormText, lex: Lexicon, found: Found,
                  message_hit: bool) -> bool:
    if ctx.applies_to and not hit.source.startswith(ctx.applies_to):
        return False
    if ctx.window == "overlap":
        return any(i <= hit.tj and hit.ti <= j for i, j in found.spans(ctx.cues))
    if ctx.window == "message":
        return message_hit
    if ctx.cues is None:
        return False
    breaks = lex.clause_breaks if ctx.window == "clause" else lex.sentence_breaks
    if ctx.before:
        lo = _window(nt, hit.ti - 1, ctx.before, -1, breaks)
        if lo <= hit.ti - 1 and found.within(ctx.cues, lo, hit.ti - 1):
            if ctx.unless is None:
                return True
            wider = _window(nt, hit.ti - 1, ctx.before + 2, -1, breaks)
            if not found.within(ctx.unless, wider, hit.ti - 1):
                return True
    if ctx.after:
        hi = _window(nt, hit.tj + 1, ctx.after, 1, breaks)
        if hi >= hit.tj + 1 and found.within(ctx.cues, hit.tj + 1, hi):
            return True
    return False


def _apply_contexts(lex: Lexicon, nt: NormText, hits: list[Hit], found: Found) -> set[str]:
    """Negate or cap hits in place; return the categories capped message-wide."""
    capped_categories: set[str] = set()
    for ctx in lex.contexts:
        present = bool(found.spans(ctx.cues))
        if ctx.effect == "cap_category":
            if present:
                capped_categories.update(ctx.applies_to)
            continue
        if ctx.cues is not None and not present:
            continue  # a cue absent from the whole message is absent from every window
        for hit in hits:
            if not hit.live:
                continue
            if _context_hits(ctx, hit, nt, lex, found, present):
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


def _drop_fallback(live: list[Hit], fallback_ids: frozenset[str],
                   firm_ids: frozenset[str] = frozenset()) -> list[Hit]:
    """Fallback sections ("being abused", no kind named) give way to any specific category.

    They exist so that a disclosure is never left without a category; once a specific kind is
    found they would only add a guessed one. A `firm` fallback hit ("my cousin is getting
    abused": abuse happening now) is kept, under the specific kind found over the same words
    (else the first one), so its phrase still holds the result at its urgency for the model.
    """
    if not any(h.source in fallback_ids for h in live):
        return live
    specific = [h for h in live if h.category in _SAFEGUARDING and h.source not in fallback_ids]
    if not specific:
        return live
    kept = [h for h in live if h.source not in fallback_ids]
    for h in live:
        if h.source in fallback_ids and h.source in firm_ids:
            over = next((o for o in specific if o.ti <= h.tj and h.ti <= o.tj), specific[0])
            h.category = over.category
            kept.append(h)
    return kept


def _drop_yielding(live: list[Hit], rules: tuple[Rule, ...]) -> list[Hit]:
    """Drop a rule's finding when a rule it yields to (rules.toml `yields_to`) found something
    over the same words: who did it decides the category. "Staff at the care home restrain my
    dad" names a family member only as the person harmed, so it is `organisational`, not
    `domestic` (Care and Support Statutory Guidance 14.17: organisational abuse is by a
    service or its staff; domestic abuse is by a partner or family member)."""
    yields = {r.id: r.yields_to for r in rules if r.yields_to}
    if not any(h.source in yields for h in live):
        return live
    return [h for h in live if h.source not in yields or not any(
        o.source in yields[h.source] and o.ti <= h.tj and h.ti <= o.tj for o in live)]


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


def _language(text: str, nt: NormText, lex: Lexicon) -> tuple[str | None, str | None]:
    """(language code, review reason). A message in a language with no word list here cannot
    be screened, so it gets a reason (and so at least "urgent"): a person reads it."""
    foreign = not text.isascii() and any(c.isalpha() for c in _NON_ASCII.findall(text))
    if nt.alpha_tokens < language.MIN_WORDS and not foreign:
        return None, None
    if not foreign and nt.known_tokens >= language.ENGLISH_SHARE * nt.alpha_tokens:
        return "en", None  # the common case: no detector needed
    guess = language.identify(text)
    if (not foreign and guess.code not in lex.languages and guess.code is not None
            and nt.alpha_tokens <= SHORT_WORDS and guess.confidence < SHORT_CONFIDENCE
            and nt.known_tokens >= SHORT_ENGLISH_SHARE * nt.alpha_tokens):
        # A subject line ("Re: overdose awareness poster") is too short for the detector,
        # which calls it Italian; with some English words and no confident other answer, it is
        # English, and a person is not asked to review it as a foreign message.
        return "en", None
    if guess.code == "en" or guess.code in lex.languages:
        return guess.code, None
    if guess.code is None:
        if guess.method == "too-short":
            return None, None
        return None, f"language could not be identified (script: {guess.script})"
    return guess.code, f"non-English text (detected: {guess.code}), no word list for it"


def _expanded(text: str, nt: NormText, hit: Hit) -> bool:
    """Whether a word of `hit` was rewritten by the text-speak table ("od" -> "overdose"),
    rather than typed (case, apostrophes and Latin diacritics aside)."""
    for i in range(hit.ti, hit.tj + 1):
        s, e, exact = nt.origins[i]
        if not exact and fold_latin(text[s:e].lower()).replace("'", "").replace("’", "") \
                != nt.words[i]:
            return True
    return False


def screen_text(
    text: str, channel: str | None = None, lex: Lexicon | None = None
) -> ScreeningResult:
    """Screen one message. Pure: the same text always gives the same result."""
    del channel  # reserved: channel-specific rules can be added in data later
    lex = lex or get()
    nt = lex.normalise(text)
    lang, review = _language(text, nt, lex)
    if nt.text:
        hits, found = _find(lex, nt)
    else:
        hits, found = [], Found([])
    if lang == "en" and lex.foreign_ids:
        # Another language's word list reads an English message only by accident ("tribunal"
        # is Spanish too); in mixed or unidentified text every list still applies.
        hits = [h for h in hits if h.source not in lex.foreign_ids]
    elif lang is not None and lang in lex.languages:
        # English text-speak is English: in a Polish message "od" is "since", not "overdose".
        # An English phrase found only through such an expansion does not count there.
        hits = [h for h in hits if h.source in lex.foreign_ids or not _expanded(text, nt, h)]
    capped_categories = _apply_contexts(lex, nt, hits, found)
    live = [h for h in hits if h.live]
    for h in live:
        h.index()
    if live:
        present: set[str] = set()
        for h in live:
            present |= h.keys
        for rule in lex.rules:
            for g in rule.groups:
                if present.isdisjoint(g):
                    break  # some group has no hit at all: the rule cannot fire
            else:
                made = _apply_rule(rule, live)
                if made is not None:
                    made.index()
                    live.append(made)
                    present |= made.keys

    if any(r.yields_to for r in lex.rules):
        live = _drop_yielding(live, lex.rules)
    if lex.fallback_ids:
        live = _drop_fallback(live, lex.fallback_ids, lex.firm_ids)

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
        cues=tuple(sorted({h.source for h in live if not h.category})),
    )
