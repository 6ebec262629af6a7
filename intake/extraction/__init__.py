"""Field extraction for referrals: free text in, structured fields out (pure functions).

``extract(text, channel, sender)`` returns an :class:`ExtractionResult`; see
:mod:`intake.extraction.core` for whose details ``phone``/``email``/``name`` are, and the TOML
files under ``data/`` for the vocabularies.
"""

from intake.extraction.core import extract
from intake.extraction.result import ExtractionResult

__all__ = ["ExtractionResult", "extract"]
