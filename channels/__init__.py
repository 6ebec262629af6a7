"""The channels intake receives on: one folder each, owning its door, its worker side, its
sending and its provider's errors (`intake.channel` is the port they implement).

`registry()` is what the composition roots (`intake/cli.py`, `worker.py`, `intake/tasks.py`) hand
the core: every channel this release ships.
"""

from __future__ import annotations

from channels.email.channel import EmailChannel
from channels.sms.channel import SmsChannel
from channels.voice.channel import VoiceChannel
from intake.channel import BaseChannel


def registry() -> list[BaseChannel]:
    """One instance of every channel, SMS first (a staff phone number is reached by SMS)."""
    return [SmsChannel(), EmailChannel(), VoiceChannel()]
