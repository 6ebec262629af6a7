"""The child process that reads one file (`python -m intake.documents.child`).

It limits itself first (CPU, address space, no files written), then reads one JSON request on
standard input and writes one JSON answer on standard output (`intake.documents.sandbox`).
"""

from __future__ import annotations

import base64
import json
import resource
import sys
from typing import Any


def _limit(limits: dict[str, Any]) -> None:
    cpu = int(limits.get("cpu_seconds") or 20)
    memory = int(limits.get("memory_bytes") or 1024 * 1024 * 1024)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    _limit(request.get("limits") or {})
    from intake.documents.readers import read  # after the limits: imports cost memory too

    data = base64.b64decode(request["data"])
    reading = read(str(request["filename"]), str(request["content_type"]), data)
    answer = {
        "text": reading.text,
        "notes": reading.notes,
        "parts": [
            {
                "filename": part.filename,
                "content_type": part.content_type,
                "data": base64.b64encode(part.data).decode("ascii"),
                "text": part.text,
            }
            for part in reading.parts
        ],
    }
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
