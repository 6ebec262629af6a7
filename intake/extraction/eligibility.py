"""The eligibility card: what a referral says about the law that applies to the person.

``card(text, today)`` reads, from the message as received, the facts a statutory advocacy
service checks before it accepts a case (the values are exactly these, keys absent = unknown):

* ``mha_section``: the person's Mental Health Act 1983 status now - "2", "3", "4", "5(2)",
  "5(4)", "135", "136", "35", "36", "37", "37/41", "47/49", "48/49", "CTO" (s17A),
  "guardianship" (s7) or "informal". Only a status that holds now counts: "was on a section 3
  in 2019 but is informal now" is "informal", "assessing him for a section 2" is nothing yet,
  and "section 4 of the form" is not the Act;
* ``detained_on`` (ISO date) and, for section 2, ``tribunal_deadline``: the last day on which
  the patient may apply to the First-tier Tribunal, ``detained_on + 13 days`` (MHA 1983 s66(1)(a)
  and (2)(a): "within the period of 14 days beginning with the day on which the patient is
  admitted"; the day of admission is day 1);
* ``decision_type`` (MCA 2005 ss37-39, and the discretionary care reviews and safeguarding of
  SI 2006/2883): "serious_medical_treatment", "accommodation", "care_review", "safeguarding";
  ``decision_due`` (ISO date of the decision or best-interests meeting); ``lacks_capacity``;
  ``has_appropriate_person`` (false: nobody appropriate to consult - none, estranged, in
  dispute; true: a suitable family member or friend is involved); ``lpa``: "health_welfare",
  "property_finance" or "deputy";
* ``care_act_stage`` (Care Act 2014 s67): "needs_assessment" (s9), "carers_assessment" (s10),
  "care_plan" (s25), "review" (s27), "safeguarding_enquiry" (s42);
* ``complaint_service``: "nhs", "social_care" or "other"; ``incident_date`` (ISO date).

Each value comes with a confidence in [0, 1] and the ``(start, end)`` character span of the text
it was read from. Relative dates ("last Saturday") are resolved against ``today``, the day the
message was received (Europe/London). Vocabulary: ``data/eligibility.toml`` and
``data/dates.toml``; every pattern runs on RE2 (linear time on any input).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from intake.extraction import dates, linear
from intake.extraction.vocab import compiled, load

LONDON = ZoneInfo("Europe/London")
# MHA 1983 s66(2)(a): 14 days beginning with the day of admission, so the last day is day 14.
TRIBUNAL_WINDOW_DAYS = 14
NOT_DETAINED = {"informal", "CTO", "guardianship"}
# A message naming hundreds of sections is not a referral; beyond these, mentions and context
# markers are not weighed (keeps a hostile text's cost linear).
MAX_MENTIONS, MAX_MARKERS, MAX_FOUND = 200, 400, 200
# Date cues that say a date is not the one wanted, and how far before a date they reach.
NEGATIVE, NEGATIVE_REACH = ("not_detention", "not_decision", "birth"), 30
# A cue this close after a date that a negative cue precedes says what the date is instead.
FOLLOWING_REACH = 25
# Every key of the card, in the order it is shown.
KEYS = (
    "mha_section",
    "detained_on",
    "tribunal_deadline",
    "decision_type",
    "decision_due",
    "lacks_capacity",
    "has_appropriate_person",
    "lpa",
    "care_act_stage",
    "complaint_service",
    "incident_date",
)
Span = tuple[int, int]


@dataclass(frozen=True)
class Card:
    """``values`` (the card), ``confidence`` and ``evidence`` (character spans) by key."""

    values: dict[str, Any] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, Span] = field(default_factory=dict)


@dataclass
class _Mention:
    value: str
    start: int
    end: int
    weight: float
    past: bool = False
    future: bool = False
    now: bool = False


def received_day(received_at: datetime | str | None) -> date:
    """The calendar day in England a message arrived: ``received_at`` (aware, or naive meaning
    London time; an ISO string is accepted) or, when absent, now. Raises ValueError on a string
    that is not an ISO datetime."""
    if received_at is None:
        return datetime.now(LONDON).date()
    if isinstance(received_at, str):
        received_at = datetime.fromisoformat(received_at.strip().replace("Z", "+00:00"))
    if received_at.tzinfo is None:
        return received_at.date()
    return received_at.astimezone(LONDON).date()


def _data() -> dict[str, Any]:
    return load("eligibility")


def _finditer(pattern: str, text: str) -> list[linear.Match]:
    return list(compiled(pattern).finditer(text))


class _Clauses:
    """Where the clauses of a text start, so that context stays within its clause."""

    def __init__(self, text: str, kind: str = "clause_break") -> None:
        breaks = _finditer(_data()["context"][kind], text)
        self.starts = [0] + [m.end() for m in breaks]

    def of(self, pos: int) -> int:
        return bisect_right(self.starts, pos) - 1


def _distance(a: Span, b: Span) -> int:
    if a[0] < b[1] and b[0] < a[1]:
        return 0
    return min(abs(a[0] - b[1]), abs(b[0] - a[1]))


def _attribute(text: str, mentions: list[_Mention], today: date, clauses: _Clauses) -> None:
    """Give each past / future / now marker to the nearest mention in its clause."""
    if not mentions:
        return
    ctx = _data()["context"]
    markers: list[tuple[str, Span]] = []
    for kind in ("past", "future", "now", "past_forward"):
        markers += [(kind, m.span()) for m in _finditer(ctx[kind], text)]
    for m in _finditer(ctx["past_year"], text):
        if int(m["year"]) < today.year:
            markers.append(("past", m.span()))
    by_clause: dict[int, list[_Mention]] = {}
    for x in mentions[:MAX_MENTIONS]:
        by_clause.setdefault(clauses.of(x.start), []).append(x)
    for kind, span in markers[:MAX_MARKERS]:
        near = by_clause.get(clauses.of(span[0]))
        if not near:
            continue
        if kind == "past_forward":
            # "previously detained under s2": the next mention, else the nearest
            kind, near = "past", [x for x in near if x.start >= span[1]]
            if not near:
                continue
        target = min(near, key=lambda x: _distance(span, (x.start, x.end)))
        setattr(target, kind, True)


@cache
def _numbers() -> dict[str, str]:
    return {k.lower(): v for k, v in _data()["mha"]["numbers"].items()}


def _section_value(raw: str) -> str | None:
    low = raw.lower()
    if low.isalpha():
        return _numbers().get(low)
    if low.startswith("17"):
        return "CTO"
    if "." in low and low.startswith("5"):
        return _numbers().get(low.replace(" ", ""))
    kept = "".join(c for c in low if c.isdigit() or c in "()")
    return _numbers().get(kept)


def _mha_mentions(text: str) -> list[_Mention]:
    mha = _data()["mha"]
    found: list[_Mention] = []
    for key, weight in (("numbered", 3.0), ("bare", 2.0), ("bare_small", 2.0)):
        for m in _finditer(mha[key], text):
            value = _section_value(m["n"])
            if value:
                found.append(_Mention(value, *m.span(), weight=weight))
    for value, pattern in mha["named"].items():
        weight = 1.5 if value == "informal" else 2.5
        for m in _finditer(pattern, text):
            if not any(_distance(m.span(), (x.start, x.end)) == 0 for x in found):
                found.append(_Mention(value, *m.span(), weight=weight))
    return sorted(found, key=lambda x: x.start)


def _mha_section(text: str, today: date, clauses: _Clauses) -> tuple[_Mention, float] | None:
    mentions = _mha_mentions(text)
    _attribute(text, mentions, today, clauses)
    # a status whose last mention is over ("CTO revoked today") no longer holds
    last = {m.value: m for m in mentions}
    ended = {value for value, m in last.items() if m.past}
    current = [m for m in mentions if not m.past and not m.future and m.value not in ended]
    if any(m.value != "informal" for m in current):
        # "she's been informal for weeks" does not outweigh "put on a 5(2) this morning";
        # "is informal now" does.
        current = [m for m in current if m.value != "informal" or m.now]
    if not current:
        return None
    transition = compiled(_data()["context"]["transition"])

    def score(m: _Mention) -> tuple[float, int]:
        moved_to = transition.search(text[max(0, m.start - 12) : m.start]) is not None
        return m.weight + 2 * m.now + 2 * moved_to, -m.start

    best = max(current, key=score)
    values = {m.value for m in current}
    confidence = 0.9 if best.weight >= 3 else 0.8 if best.weight >= 2 else 0.7
    if len(values) > 1:
        confidence -= 0.15
    return best, round(confidence, 2)


def _date_classes(
    text: str, hits: list[dates.DateHit], clauses: _Clauses, kinds: tuple[str, ...]
) -> list[str | None]:
    """For each date, the class (among ``kinds``) of the nearest cue before it in its sentence,
    else of the nearest one just after it."""
    cues: list[tuple[int, int, str]] = []
    for kind, pattern in _data()["date_cues"].items():
        if kind in kinds:
            cues += [(*m.span(), kind) for m in _finditer(pattern, text)]
    # cues ordered by where they end; searched by bisection, so many dates cost n log n
    cues.sort(key=lambda c: (c[1], c[1] - c[0]))
    ends = [c[1] for c in cues]
    starts = sorted(cues)
    start_keys = [c[0] for c in starts]
    out: list[str | None] = []
    for hit in hits:
        clause = clauses.of(hit.start)
        i = bisect_right(ends, hit.start) - 1
        if i >= 0 and clauses.of(cues[i][0]) == clause:
            # a negative cue just before the date wins over a nearer generic one: "an
            # assessment is booked for Monday" is not the decision's date
            k, kind = i, cues[i][2]
            while k >= 0 and hit.start - cues[k][1] <= NEGATIVE_REACH:
                if cues[k][2] in NEGATIVE and clauses.of(cues[k][0]) == clause:
                    kind = cues[k][2]
                    break
                k -= 1
            j = bisect_left(start_keys, hit.end)
            if (
                kind in NEGATIVE
                and j < len(starts)
                and starts[j][2] not in NEGATIVE
                and starts[j][0] - hit.end <= FOLLOWING_REACH
                and clauses.of(starts[j][0]) == clause
            ):
                # "informal until 18/09/2026, when she was detained": the words right after
                kind = starts[j][2]
            out.append(kind)
            continue
        j = bisect_left(start_keys, hit.start)
        # a cue inside the date ("since Friday") or just after it, in the same sentence
        if j < len(starts) and starts[j][0] - hit.end <= 40 and clauses.of(starts[j][0]) == clause:
            out.append(starts[j][2])
        else:
            out.append(None)
    return out


def _vote(
    text: str, tables: dict[str, dict[str, float]], order: list[str], weights: dict[str, float]
) -> tuple[str, float, Span, dict[str, float]] | None:
    scores: dict[str, float] = {}
    spans: dict[str, tuple[float, Span]] = {}
    for kind in order:
        total = 0.0
        for pattern, weight in tables[kind].items():
            found = compiled(pattern).search(text)
            if found is None:
                continue
            w = float(weight) * weights.get(f"{kind}@{found.start()}", 1.0)
            total += w
            if kind not in spans or w > spans[kind][0]:
                spans[kind] = (w, found.span())
        scores[kind] = total
    best = max(order, key=lambda k: (scores[k], -order.index(k)))
    if scores[best] <= 0:
        return None
    return best, scores[best], spans[best][1], scores


def _vote_confidence(top: float, scores: dict[str, float]) -> float:
    runner_up = sorted(scores.values(), reverse=True)[1] if len(scores) > 1 else 0.0
    margin = (top - runner_up) / top if top else 0.0
    return round(min(0.95, 0.5 + 0.04 * top + 0.25 * margin), 2)


def _tables(section: dict[str, Any], kinds: list[str]) -> dict[str, dict[str, float]]:
    return {k: {p: float(w) for p, w in section[k].items()} for k in kinds}


def _care_act_stage(
    text: str, today: date, clauses: _Clauses, imca_context: bool
) -> tuple[str, float, Span] | None:
    data = _data()["care_act"]
    kinds = ["needs_assessment", "carers_assessment", "care_plan", "review", "safeguarding_enquiry"]
    tables = _tables(data, kinds)
    hits: list[_Mention] = []
    for kind in kinds:
        for pattern in tables[kind]:
            hits += [_Mention(kind, *m.span(), 0.0) for m in _finditer(pattern, text)]
    _attribute(text, hits, today, clauses)
    # a stage that is over ("the assessment took place") counts a quarter; one under way now,
    # a little more
    weights: dict[str, float] = {}
    for h in hits:
        weights[f"{h.value}@{h.start}"] = 0.25 if h.past else 1.25 if h.now else 1.0
    care_context = compiled(data["context"]).search(text) is not None
    if not care_context and compiled(data["not_context"]).search(text):
        return None
    if imca_context and not care_context:
        kinds = [k for k in kinds if k not in data["imca_overlap"]]
    voted = _vote(text, tables, kinds, weights)
    if voted is None or voted[1] < float(data["min_score"]):
        return None
    kind, top, span, scores = voted
    return kind, _vote_confidence(top, scores), span


def _last(text: str, patterns: dict[str, list[str]]) -> tuple[str, Span] | None:
    """The value whose pattern occurs last (a later statement corrects an earlier one);
    an occurrence inside another value's occurrence does not count."""
    found: list[tuple[Span, str]] = []
    for value, group in patterns.items():
        for pattern in group:
            found += [(m.span(), value) for m in _finditer(pattern, text)]
    found = sorted(found)[:MAX_FOUND]
    kept = [
        (span, value)
        for span, value in found
        if not any(
            o[0] <= span[0] and span[1] <= o[1] and (o[1] - o[0]) > (span[1] - span[0])
            for o, _ in found
        )
    ]
    if not kept:
        return None
    span, value = max(kept, key=lambda f: f[0])
    return value, span


def card(text: str, today: date, assume: frozenset[str] = frozenset()) -> Card:
    """The eligibility card of ``text`` (see the module docstring), dates resolved on ``today``.

    ``text`` is read as given, so spans index it directly (callers pass the message as stored).
    ``assume`` names contexts the text need not state because the question it answers did:
    "imca" (a capacity decision), "complaint".
    """
    data = _data()
    values: dict[str, Any] = {}
    conf: dict[str, float] = {}
    spans: dict[str, Span] = {}

    def put(key: str, value: Any, confidence: float, span: Span) -> None:
        values[key], conf[key], spans[key] = value, confidence, span

    clauses = _Clauses(text)
    section = _mha_section(text, today, clauses)
    if section:
        put("mha_section", section[0].value, section[1], (section[0].start, section[0].end))

    hits = dates.find(text)
    sentences = _Clauses(text, "sentence_break")
    classes = _date_classes(text, hits, sentences, ("detention", "not_detention", "birth"))
    used: set[int] = set()
    # "he's on a section but I don't know which one": detained, the section unknown (not when
    # every section named is over or to come)
    detained = (section is not None and section[0].value not in NOT_DETAINED) or (
        section is None
        and not _mha_mentions(text)
        and compiled(data["mha"]["detained_words"]).search(text) is not None
    )
    if detained:
        candidates = []
        for i, (hit, kind) in enumerate(zip(hits, classes, strict=True)):
            day = hit.resolve(today, "past") if kind == "detention" else None
            if day is not None and day <= today:
                candidates.append((i, day))
        # the date in the chosen section's own clause ("converted to section 3 on 20/11") first
        own = sentences.of(section[0].start) if section else -1
        at = section[0].start if section else 0

        def rank(c: tuple[int, date]) -> tuple[bool, int]:
            hit = hits[c[0]]
            return sentences.of(hit.start) != own, abs(hit.start - at) if section else hit.start

        ranked = sorted(candidates, key=rank)
        if ranked:
            i, day = ranked[0]
            put("detained_on", day.isoformat(), 0.8, (hits[i].start, hits[i].end))
            used.add(i)
    if values.get("mha_section") == "2" and "detained_on" in values:
        last = date.fromisoformat(values["detained_on"]) + timedelta(days=TRIBUNAL_WINDOW_DAYS - 1)
        put(
            "tribunal_deadline",
            last.isoformat(),
            min(conf["detained_on"], conf["mha_section"]),
            spans["detained_on"],
        )

    imca = data["imca"]
    imca_context = "imca" in assume or compiled(imca["context"]).search(text) is not None
    if imca_context:
        kinds = ["serious_medical_treatment", "accommodation", "care_review", "safeguarding"]
        voted = _vote(text, _tables(imca, kinds), kinds, {})
        if voted and voted[1] >= float(imca["min_score"]):
            put("decision_type", voted[0], _vote_confidence(voted[1], voted[3]), voted[2])
    if "decision_type" in values:
        classes = _date_classes(text, hits, sentences, ("decision", "not_decision", "birth"))
        due = [
            (i, hit.resolve(today, "future"))
            for i, (hit, kind) in enumerate(zip(hits, classes, strict=True))
            if kind == "decision" and i not in used
        ]
        due = [(i, d) for i, d in due if d is not None]
        coming = [(i, d) for i, d in due if d >= today] or due
        if coming:
            i, day = coming[0]
            put("decision_due", day.isoformat(), 0.75, (hits[i].start, hits[i].end))
            used.add(i)

    capacity = data["capacity"]
    said = _last(text, {"lacks": capacity["lacks"], "has": capacity["has"]})
    if said:
        put("lacks_capacity", said[0] == "lacks", 0.85, said[1])
    person = data["appropriate_person"]
    said = _last(text, {"none": [person["none"]], "some": [person["some"]]})
    if said:
        put("has_appropriate_person", said[0] == "some", 0.75, said[1])
    lpa = [
        (m.span(), kind) for kind, pattern in data["lpa"].items() for m in _finditer(pattern, text)
    ]
    if lpa:
        span, kind = min(lpa)
        put("lpa", kind, 0.85, span)

    stage = _care_act_stage(text, today, clauses, imca_context)
    if stage:
        put("care_act_stage", stage[0], stage[1], stage[2])

    complaint = data["complaint"]
    if "complaint" in assume or compiled(complaint["context"]).search(text):
        order = list(complaint["priority"])
        voted = _vote(text, _tables(complaint, order), order, {})
        if voted:
            put("complaint_service", voted[0], _vote_confidence(voted[1], voted[3]), voted[2])
            classes = _date_classes(text, hits, sentences, ("birth",))
            for i, (hit, kind) in enumerate(zip(hits, classes, strict=True)):
                if i in used or kind == "birth":
                    continue
                day = hit.resolve(today, "past")
                if day is not None and day <= today:
                    put("incident_date", day.isoformat(), 0.7, (hit.start, hit.end))
                    break
    return Card(values, conf, spans)
