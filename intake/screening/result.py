"""Result types of screening: plain, immutable, JSON-able."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Match:
    """A live hit. `start`/`end` index the ORIGINAL text; `phrase` is text[start:end].

    `category` is a safeguarding category, or "statutory" (a time-critical statutory matter,
    urgency only), "danger" (someone helpless or in danger now with no kind of abuse named,
    urgency only) or "unsafe_contact".
    `rule` names the lexicon section or combination rule (suffix "~fuzzy" if a misspelling
    was corrected), so an advocate can see why the message was raised.
    """

    category: str
    phrase: str
    start: int
    end: int
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "phrase": self.phrase, "start": self.start,
                "end": self.end, "rule": self.rule}


@dataclass(frozen=True, slots=True)
class Negated:
    """A risk phrase found but cancelled by context (negation, past, information request...)."""

    phrase: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"phrase": self.phrase, "start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    urgency: str  # "emergency" | "urgent" | "routine"
    safeguarding: list[str] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    negated: list[Negated] = field(default_factory=list)
    safe_to_contact: bool = True
    needs_review: str | None = None
    language: str | None = None
    # Live cue sections (lexicon.toml sections with no category: who did it, a child, "now"),
    # sorted ids. Not shown or stored: the model reads them (`model.lexicon_features`).
    cues: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "urgency": self.urgency,
            "safeguarding": list(self.safeguarding),
            "matches": [m.to_dict() for m in self.matches],
            "negated": [n.to_dict() for n in self.negated],
            "safe_to_contact": self.safe_to_contact,
            "needs_review": self.needs_review,
            "language": self.language,
        }
