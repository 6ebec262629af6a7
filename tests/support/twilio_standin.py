"""A local HTTP server standing in for Twilio's REST API.

Twilio cannot be reached from here, so the real Twilio client is pointed at this server
(`TWILIO_API_BASE_URL`). It records every request it is sent and answers like Twilio does; it can
be told to fail the next requests with a given status and Twilio error code.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]

    def value(self, name: str) -> str:
        return self.form.get(name, [""])[0]


@dataclass
class TwilioStandIn:
    server: ThreadingHTTPServer
    requests: list[Recorded] = field(default_factory=list)
    failures: list[tuple[int, int]] = field(default_factory=list)  # (http status, twilio code)
    delays: list[float] = field(default_factory=list)  # seconds to wait before answering
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, times: int, status: int = 500, code: int = 20500) -> None:
        with self.lock:
            self.failures.extend([(status, code)] * times)

    def delay_next(self, times: int, seconds: float) -> None:
        """Record the next requests but answer them only after `seconds` (a slow provider)."""
        with self.lock:
            self.delays.extend([seconds] * times)

    @property
    def messages(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith("/Messages.json")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start() -> TwilioStandIn:
    standin: TwilioStandIn

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            record = Recorded("POST", self.path, dict(self.headers), parse_qs(body))
            with standin.lock:
                standin.requests.append(record)
                failure = standin.failures.pop(0) if standin.failures else None
                delay = standin.delays.pop(0) if standin.delays else 0.0
            if delay:
                time.sleep(delay)
            if failure:
                status, code = failure
                self._json(status, {"code": code, "message": "stand-in failure", "status": status})
                return
            sid = "SM" + secrets.token_hex(16)
            self._json(
                201,
                {
                    "sid": sid,
                    "status": "queued",
                    "to": record.value("To"),
                    "from": record.value("From"),
                    "body": record.value("Body"),
                    "account_sid": self.path.split("/")[3] if self.path.count("/") > 3 else "",
                },
            )

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    standin = TwilioStandIn(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return standin
