"""Screening of referral text for urgency and safeguarding categories.

`screen(text, channel)` is pure and thread-safe; its lexicon and rules are TOML files under
`intake/screening/data/`, loaded once on first use.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from intake.screening import cache, language
from intake.screening.engine import screen_text
from intake.screening.lexicon import CATEGORIES
from intake.screening.model import final_urgency, load_model, opinion
from intake.screening.result import Match, Negated, ScreeningResult

__all__ = ["CATEGORIES", "Match", "Negated", "ScreeningResult", "screen", "urgency", "warm_up"]


def screen(text: str, channel: str | None = None) -> ScreeningResult:
    """Screen one referral message ("sms" | "email" | "voice" | None channel).

    The lexicon (`engine.screen_text`) reads the text first and explains itself (matches with
    offsets, rules, negations, language). The model (`model.opinion`) then weighs the words and
    what the lexicon found, and decides the final urgency and categories: it can raise what no
    phrase caught and lower a lexicon false alarm, but never lowers a lexicon emergency below
    urgent, nor anything the lexicon sent for review (a language with no word list). Whatever
    the model changed is written into `needs_review` ("model: emergency (p=0.81) from ...",
    "model: lowered urgent to routine ...", "model categories: domestic (p=0.91)"), so an
    advocate knows a model, not a phrase, decided. Measured figures: README, "Screening".
    """
    result = screen_text(text, channel)
    op = opinion(result, text)
    if op.urgency == result.urgency and not op.reason and \
            list(op.categories) == result.safeguarding:
        return result
    review = "; ".join(r for r in (result.needs_review, op.reason) if r) or None
    return replace(result, urgency=op.urgency, safeguarding=list(op.categories),
                   needs_review=review)


def urgency(text: str, channel: str | None = None) -> str:
    """`screen(text, channel).urgency`, without deciding categories: what a door needs to
    choose a queue ("emergency" | "urgent" | "routine"). Same lexicon, model and decision, in
    about half the time (the category heads are most of the model's work)."""
    return final_urgency(screen_text(text, channel), text)


def warm_up(cache_dir: Path | None = None) -> None:
    """Build the lexicon, load the model and the language detector now, not on the first
    message. Web and worker processes call this at start-up, so the first frightened text of
    the day is not the one that waits; a forking RQ worker's children inherit all three.

    cache_dir: where the compiled lexicon and model are kept between starts (web and worker
    pass `DATA_DIR/cache`; see `intake.screening.cache`); None builds them in memory. The
    detector loads its models on another thread meanwhile; profiling in round 9 showed the
    main thread waiting while lingua loads (it appears to hold the GIL), so the overlap saves
    less than two cores would suggest. Measured in `bench/screening.py`.
    """
    if cache_dir is not None:
        cache.use_directory(cache_dir)
    detector = threading.Thread(target=language.warm_up, name="screening-language-warm-up",
                                daemon=True)
    detector.start()
    screen("warm up")
    load_model()
    detector.join()
    language.warm_up()  # at once when the thread loaded it; raises here if it failed there
