"""A real HTTP server standing in for a case system that receives intake's webhook or FHIR bundles.

It checks the webhook signature with the receiver example shipped in docs/ (so the documented
code is the code under test), records every request, and can be told how to answer the next ones:
a status code, or `"timeout"` (hold the request longer than intake's client timeout).
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECEIVER_EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "receiver_example.py"


def _load_verify() -> Callable[[str, str, bytes], bool]:
    spec = importlib.util.spec_from_file_location("receiver_example", RECEIVER_EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.verify  # type: ignore[no-any-return]


verify = _load_verify()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    answered: int | str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class CaseSystem:
    server: ThreadingHTTPServer
    secret: str
    hold_seconds: float = 3.0
    requests: list[Received] = field(default_factory=list)
    script: list[int | str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def answer_next(self, *answers: int | str) -> None:
        """Answer the next requests with these statuses (or "timeout"), then 200 again."""
        with self.lock:
            self.script.extend(answers)

    def fail_first(self, times: int, status: int = 503) -> None:
        self.answer_next(*([status] * times))

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def start(secret: str = "whsec-test-0123456789") -> CaseSystem:
    system: CaseSystem

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            signature = self.headers.get("Intake-Signature", "")
            ok = bool(signature) and verify(system.secret, signature, body)
            with system.lock:
                answer: int | str = system.script.pop(0) if system.script else 200
                if signature and not ok:
                    answer = 401
                system.requests.append(Received(self.path, dict(self.headers), body, ok, answer))
            if answer == "timeout":
                system.release.wait(system.hold_seconds)
                answer = 200
            payload = b'{"ok": true}' if answer == 200 else b'{"error": "stand-in"}'
            try:
                self.send_response(int(answer))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (the timeout case)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    system = CaseSystem(server=server, secret=secret)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return system
