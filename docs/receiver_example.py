"""How a case system receives intake's webhook: verify the signature, then upsert the case.

Standalone (standard library only): copy it into the receiving service. Run it with
`python docs/receiver_example.py` and point intake at it with
`CASE_SYSTEM=store,webhook CASE_WEBHOOK_URL=http://127.0.0.1:9000/intake CASE_WEBHOOK_SECRET=...`.

The signature header is `Intake-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`; the HMAC key is
the shared secret and the signed text is `f"{t}.{raw body}"`. Check it over the raw bytes, before
parsing the JSON, and refuse timestamps more than five minutes away (a replayed capture).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 300


def verify(secret: str, header: str, body: bytes, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when `header` (the Intake-Signature value) signs `body` with `secret` and is fresh."""
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    signed = str(timestamp).encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


CASES: dict[str, dict] = {}  # reference -> latest event applied (use your database)
SEEN_KEYS: set[str] = set()  # Idempotency-Key values already applied


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        secret = os.environ["CASE_WEBHOOK_SECRET"]
        if not verify(secret, self.headers.get("Intake-Signature", ""), body):
            self.send_response(401)  # intake records the refusal and does not retry a 4xx
            self.end_headers()
            return
        key = self.headers.get("Idempotency-Key", "")
        event = json.loads(body)
        reference = event["referral"]["reference"]
        latest = CASES.get(reference)
        if key not in SEEN_KEYS and (latest is None or event["sequence"] > latest["sequence"]):
            CASES[reference] = event  # create or update the case for this reference
        SEEN_KEYS.add(key)
        self.send_response(204)  # any 2xx means delivered; 408, 429 and 5xx make intake retry
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", 9000), Receiver).serve_forever()
