"""The value returned by :func:`intake.extraction.extract`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ExtractionResult:
    """Fields a message states, with a confidence in [0, 1] for each (and, for the eligibility
    card, the span of text each value came from).

    Absent fields are omitted rather than set to ``None`` so that merging answers into a referral
    never overwrites something known with "unknown".
    """

    fields: dict[str, Any] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    # The ``[start, end)`` character span of the message each value was read from, for fields
    # that record one (the eligibility card: ``"eligibility.mha_section": [118, 127]``).
    evidence: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able view: the fields plus ``confidence`` and (when any) ``evidence``."""
        out = {**self.fields, "confidence": dict(self.confidence)}
        if self.evidence:
            out["evidence"] = {k: list(v) for k, v in self.evidence.items()}
        return out
