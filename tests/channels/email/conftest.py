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


def read_files(parsed: Any) -> Any:
    """`parsed` as it is once its files have been read, as the sandboxed job reads them
    (`intake.documents`): the readers in-process here (their limits are tested on their own)."""
    from dataclasses import replace

    from intake.documents.readers import read

    files, defects = [], list(parsed.defects)
    for item in parsed.attachments:
        if not item.unread:
            files.append(item)
            continue
        reading = read(item.filename, item.content_type, item.data)
        files.append(replace(item, text=reading.text, unread=False))
        files.extend(reading.parts)
        defects.extend(reading.notes)
    return replace(parsed, attachments=files, defects=defects)
