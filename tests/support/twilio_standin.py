"""A local HTTP server standing in for Twilio's REST API.

Twilio cannot be reached from here, so the real Twilio client is pointed at this server
(`TWILIO_API_BASE_URL`). It records every request it is sent and answers like Twilio does; it can
be told to fail the next requests with a given status and Twilio error code.

Like Twilio, it refuses a message whose From and To are on different channels (`whatsapp:` to a
plain number: 400, error 21910), and serves media (`add_media`) only to requests with the
account's credentials, optionally by redirecting to another server (Twilio's media CDN).
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
    # path -> (content type, bytes) served on GET; path -> URL to redirect a GET to
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    credentials: tuple[str, str] | None = None  # what GETs must authenticate with

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

    def add_media(self, path: str, content_type: str, data: bytes) -> str:
        """Serve `data` at `path` (to the account's credentials); its URL."""
        with self.lock:
            self.media[path] = (content_type, data)
        return self.url + path

    @property
    def media_requests(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == "GET"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _channel(address: str) -> str:
    prefix, colon, _rest = address.partition(":")
    return prefix if colon and not prefix.startswith("+") else ""


def _authorised(headers: Any, wanted: tuple[str, str]) -> bool:
    import base64

    expected = base64.b64encode(f"{wanted[0]}:{wanted[1]}".encode()).decode()
    return str(headers.get("Authorization") or "") == f"Basic {expected}"


def start(host: str = "127.0.0.1") -> TwilioStandIn:
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
            if _channel(record.value("From")) != _channel(record.value("To")):
                message = "From and To are on different channels"
                self._json(400, {"code": 21910, "message": message, "status": 400})
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

        def do_GET(self) -> None:
            record = Recorded("GET", self.path, dict(self.headers), {})
            with standin.lock:
                standin.requests.append(record)
                served = standin.media.get(self.path)
                redirect = standin.redirects.get(self.path)
                wanted = standin.credentials
            if wanted is not None and not _authorised(self.headers, wanted):
                self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return
            if redirect:
                self.send_response(307)
                self.send_header("Location", redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if served is None:
                self._json(404, {"code": 20404, "message": "not found", "status": 404})
                return
            content_type, data = served
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer((host, 0), Handler)
    standin = TwilioStandIn(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return standin
