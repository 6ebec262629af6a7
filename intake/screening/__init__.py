"""Screening of referral text for urgency and safeguarding categories.

`screen(text, channel)` is pure and thread-safe; its lexicon and rules are TOML files under
`intake/screening/data/`, loaded once on first use.
"""

from __future__ import annotations

from intake.screening.engine import screen_text
from intake.screening.lexicon import CATEGORIES
from intake.screening.result import Match, Negated, ScreeningResult

__all__ = ["CATEGORIES", "Match", "Negated", "ScreeningResult", "screen", "warm_up"]


def screen(text: str, channel: str | None = None) -> ScreeningResult:
    """Screen one referral message ("sms" | "email" | "voice" | None channel)."""
    return screen_text(text, channel)


def warm_up() -> None:
    """Load the lexicon and compile its rules now (about a second), not on the first message.

    Web and worker processes call this at start-up, so the first frightened text of the day is not
    the one that waits; a forking RQ worker's children inherit the compiled rules.
    """
    screen_text("warm up", None)
