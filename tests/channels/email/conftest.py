"""Shared access to the email fixture corpus and its hand-written expectations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"


def load_expected() -> dict[str, dict[str, Any]]:
    return json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()
