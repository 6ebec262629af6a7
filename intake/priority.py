"""Which queue a message goes on, decided at the door.

The channel adapters call this before enqueueing so that emergency and urgent messages go on the
`high` queue and are picked up before routine ones. It runs the same pure screen the worker runs
later (a fraction of a millisecond for a text); the worker's screen is the one that is stored.
"""

from __future__ import annotations

from intake.screening import screen


def priority_for(text: str, channel: str | None = None) -> str:
    if not text:
        return "default"
    return "high" if screen(text, channel).urgency in ("emergency", "urgent") else "default"
