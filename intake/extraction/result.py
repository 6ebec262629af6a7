"""The value returned by :func:`intake.extraction.extract`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ExtractionResult:
    """Fields a message states, with a confidence in [0, 1] for each.

    Absent fields are omitted rather than set to ``None`` so that merging answers into a referral
    never overwrites something known with "unknown".
    """

    fields: dict[str, Any] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able view: the fields plus a ``confidence`` mapping."""
        return {**self.fields, "confidence": dict(self.confidence)}
