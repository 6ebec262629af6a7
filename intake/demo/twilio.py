"""A local stand-in for Twilio's REST API: records every message intake would have sent.

intake's Twilio client is pointed at it (`TWILIO_API_BASE_URL`); it answers a Messages request
the way Twilio does (201 and a message resource), and `GET /` lists what it was asked to send.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Text:
    to: str
    sender: str
    body: str


@dataclass
class TwilioStandIn:
    server: ThreadingHTTPServer
    texts: list[Text] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def sent_to(self, number: str) -> list[Text]:
        with self.lock:
            return [t for t in self.texts if t.to == number]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start(host: str = "127.0.0.1", port: int = 0) -> TwilioStandIn:
    """Serve on `host:port` (0: any free port) in a background thread."""
    standin: TwilioStandIn

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # what was sent is printed
            pass

        def do_GET(self) -> None:
            with standin.lock:
                lines = [f"to {t.to} from {t.sender}:\n  {t.body}\n" for t in standin.texts]
            data = ("Texts intake would have sent:\n\n" + "\n".join(lines)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            value = lambda name: form.get(name, [""])[0]  # noqa: E731
            if not self.path.endswith("/Messages.json"):
                self._json(404, {"code": 20404, "message": "not part of the demo", "status": 404})
                return
            text = Text(value("To"), value("From"), value("Body"))
            with standin.lock:
                standin.texts.append(text)
            self._json(
                201,
                {
                    "sid": "SM" + secrets.token_hex(16),
                    "status": "queued",
                    "to": text.to,
                    "from": text.sender,
                    "body": text.body,
                },
            )

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer((host, port), Handler)
    standin = TwilioStandIn(server)
    threading.Thread(target=server.serve_forever, daemon=True, name="twilio-standin").start()
    return standin
