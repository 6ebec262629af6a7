"""Which queue a message goes on, decided at the door.

The channel adapters call this before enqueueing so that emergency and urgent messages go on the
`high` queue and are picked up before routine ones. It runs the same pure screen the worker runs
later, urgency only (`intake.screening.urgency`: no category heads, about half a millisecond for a
text); the worker's full screen is the one that is stored.
"""

from __future__ import annotations

from intake.screening import urgency


def priority_for(text: str, channel: str | None = None) -> str:
    if not text:
        return "default"
    return "high" if urgency(text, channel) in ("emergency", "urgent") else "default"
