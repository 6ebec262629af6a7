"""The pipeline benchmark's baseline job: RQ's own cost per job, with no work in it."""

from __future__ import annotations

from typing import Any


def noop(payload: dict[str, Any]) -> None:
    return None
