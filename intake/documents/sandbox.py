"""Reading files in a child process with limits, so no file can stall or exhaust a worker.

A 45 KB DOCX of 29 MB of empty paragraphs held a worker 181 s at 1.7 GB; a 2 MB DOCX that
understates its sizes in the zip directory expands to 2 GB (issue 15). The readers
(`intake.documents.readers`) therefore run in `python -m intake.documents.child`, one child per
file, which sets its own limits before it reads a byte of the file: CPU seconds (`RLIMIT_CPU`),
address space (`RLIMIT_AS`), no files written (`RLIMIT_FSIZE`), and the parent waits at most a
wall-clock time. The child gets no environment beyond PATH and locale (no credentials), speaks
JSON on its standard streams, and whatever it answers is checked before it is used. A file that
breaks a limit is kept, with a note saying its text could not be read; nothing is raised, and
nothing here catches an exception meant for the job (RQ's timeout stays the job's).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from intake.documents.readers import Reading
from intake.models import Attachment

log = logging.getLogger(__name__)

MAX_PARTS = 60
MAX_TEXT = 200_000


@dataclass(frozen=True)
class Limits:
    """What one file may cost: CPU seconds, address space (bytes), wall-clock seconds."""

    cpu_seconds: int = 20
    memory_bytes: int = 1024 * 1024 * 1024
    wall_seconds: float = 30.0


DEFAULT_LIMITS = Limits()


def _child_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "SYSTEMROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONHASHSEED"] = "0"
    return env


def read_file(item: Attachment, limits: Limits = DEFAULT_LIMITS) -> Reading:
    """What `item` says, read in a limited child process (see the module docstring)."""
    request = {
        "limits": {"cpu_seconds": limits.cpu_seconds, "memory_bytes": limits.memory_bytes},
        "filename": item.filename,
        "content_type": item.content_type,
        "data": base64.b64encode(item.data).decode("ascii"),
    }
    label = f"attachment {item.filename!r}"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "intake.documents.child"],
            input=json.dumps(request).encode("ascii"),
            capture_output=True,
            timeout=limits.wall_seconds,
            env=_child_env(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.warning("reading an attachment took over %ss: stopped", limits.wall_seconds)
        return Reading(None, [f"{label}: not read, took longer than {limits.wall_seconds:g} s"])
    if done.returncode != 0:
        log.warning("reading an attachment ended with %s", done.returncode)
        return Reading(None, [f"{label}: not read, the reader hit a limit ({done.returncode})"])
    try:
        return _reading(json.loads(done.stdout))
    except (ValueError, TypeError, KeyError):
        return Reading(None, [f"{label}: not read, the reader's answer was unusable"])


def _reading(answer: dict[str, Any]) -> Reading:
    text = answer.get("text")
    if text is not None and not isinstance(text, str):
        raise TypeError("text")
    notes = [str(note)[:300] for note in answer.get("notes") or []][:50]
    parts: list[Attachment] = []
    for part in (answer.get("parts") or [])[:MAX_PARTS]:
        data = base64.b64decode(str(part["data"]), validate=True)
        inner_text = part.get("text")
        parts.append(
            Attachment(
                filename=str(part["filename"])[:200],
                content_type=str(part["content_type"])[:255],
                size=len(data),
                data=data,
                text=str(inner_text)[:MAX_TEXT] if isinstance(inner_text, str) else None,
            )
        )
    return Reading(text[:MAX_TEXT] if text else None, notes, parts)
