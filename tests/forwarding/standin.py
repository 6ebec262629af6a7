"""A real HTTP server on loopback that a vendor stand-in builds on.

A stand-in subclasses `StandIn` and implements `answer(request)` from the vendor's documented
contract; this base records every request and lets a test script the next answers: a status
code (answered with an error body) or `"timeout"` (held longer than intake's client timeout).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    answered: int | str = 0

    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode(), keep_blank_values=True)


@dataclass
class Answer:
    status: int
    body: Any


class StandIn:
    hold_seconds = 5.0

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: list[int | str] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlsplit(self.path)
                request = Request(
                    self.command,
                    url.path,
                    dict(parse_qsl(url.query, keep_blank_values=True)),
                    dict(self.headers),
                    body,
                )
                with standin.lock:
                    scripted = standin.script.pop(0) if standin.script else None
                    standin.requests.append(request)
                if scripted == "timeout":
                    request.answered = "timeout"
                    standin.release.wait(standin.hold_seconds)
                    return
                if scripted is not None:
                    answer = Answer(int(scripted), {"error": f"scripted {scripted}"})
                else:
                    with standin.lock:
                        answer = standin.answer(request)
                request.answered = answer.status
                payload = json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def answer_next(self, *answers: int | str) -> None:
        with self.lock:
            self.script.extend(answers)

    def answer(self, request: Request) -> Answer:  # pragma: no cover - each stand-in has one
        raise NotImplementedError

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
