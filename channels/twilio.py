"""What every Twilio channel shares: checking that a webhook really came from Twilio, and a REST
client that can be pointed somewhere else.

Twilio signs the exact URL it called. Behind a TLS-terminating proxy the app sees `http://` and an
internal host, so the URL is rebuilt from `PUBLIC_BASE_URL` + path + query whenever that is set.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from intake.config import Settings

SIGNATURE_HEADER = "X-Twilio-Signature"


def signed_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: the configured public base URL when there is one."""
    if not settings.public_base_url:
        return str(request.url)
    query = request.url.query
    return settings.public_base_url + request.url.path + (f"?{query}" if query else "")


def signature_is_valid(settings: Settings, request: Request, params: Mapping[str, Any]) -> bool:
    """Refuse anything not signed with our auth token (an unset token refuses everything)."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature or not settings.twilio_auth_token:
        return False
    validator = RequestValidator(settings.twilio_auth_token)
    return bool(validator.validate(signed_url(settings, request), params, signature))


_clients: dict[tuple[str, str, str, float], Client] = {}
_clients_lock = threading.Lock()


def rest_client(settings: Settings) -> Client:
    """A Twilio REST client with a timeout, aimed at `TWILIO_API_BASE_URL` (a stand-in in tests)."""
    key = (
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_api_base_url,
        settings.outbound_timeout,
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = Client(
                settings.twilio_account_sid,
                settings.twilio_auth_token,
                http_client=TwilioHttpClient(timeout=settings.outbound_timeout),
            )
            client.api.base_url = settings.twilio_api_base_url.rstrip("/")
            _clients[key] = client
        return client
