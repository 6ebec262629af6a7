"""What every Twilio channel shares: checking that a webhook really came from Twilio, a REST
client that can be pointed somewhere else, and what Twilio's errors mean.

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
from intake.failures import OptedOut, ProviderError, Rejected, Uncertain, Unreachable

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


# Twilio REST error codes with a meaning of their own (https://www.twilio.com/docs/api/errors).
OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient": the number texted STOP to Twilio


def failure(exc: BaseException) -> ProviderError | None:
    """What a failed Twilio REST call means, in intake's failure family (None: not Twilio's).

    - an answer with an HTTP status: 408, 429 and 5xx may pass (`Unreachable`); 21610 is the
      recipient's opt-out (`OptedOut`); any other 4xx is a refusal (`Rejected`);
    - no answer: a connection that was never made is `Unreachable`; a request that may have
      reached Twilio (a read timeout, a connection dropped mid-answer) is `Uncertain`, because
      sending it again could send the text twice.
    """
    from twilio.base.exceptions import TwilioException, TwilioRestException

    if isinstance(exc, TwilioRestException):
        if exc.code == OPTED_OUT:
            return OptedOut(f"twilio {exc.status} code {exc.code}: recipient opted out", exc.status)
        if exc.status in (408, 429) or exc.status >= 500:
            return Unreachable(f"twilio {exc.status}", exc.status)
        return Rejected(f"twilio {exc.status} code {exc.code}", exc.status)
    if isinstance(exc, OSError):
        if _reached_provider(exc):
            return Uncertain(f"no answer from twilio: {type(exc).__name__}")
        return Unreachable(f"twilio unreachable: {type(exc).__name__}")
    if isinstance(exc, TwilioException):
        return Unreachable(str(exc))
    return None


def _reached_provider(exc: BaseException) -> bool:
    """Whether a failed HTTP request may have been delivered (read timeout, dropped answer)."""
    import requests

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = repr(exc)
        refused = ("NewConnectionError", "Connection refused", "Name or service not known")
        return not any(marker in text for marker in refused)
    return False
