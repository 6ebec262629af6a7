"""What every Twilio channel shares: checking that a webhook really came from Twilio, a REST
client that can be pointed somewhere else, and what Twilio's errors mean.

Twilio signs the exact URL it called. Behind a TLS-terminating proxy the app sees `http://` and an
internal host, so the URL is rebuilt from `PUBLIC_BASE_URL` + path + query whenever that is set.
Without it the URL is the address the server listens on (`scope["server"]`), never the request's
Host header, which anyone can set (`intake web` refuses to start so on a public address).

Two signatures are accepted (Twilio's "Sign webhooks with shared keys", Webhooks configuration API,
public beta): the classic one, HMAC-SHA1 with the account's auth token; and, when a Webhook Rule
applies a Setting with a SharedKey, the key and algorithm it names in
`X-Twilio-Webhooks-Signature-Settings: key=<key id>,algorithm=HMAC_SHA256`, over the same string
(the URL and the sorted form fields). Keys are configured as `TWILIO_WEBHOOK_SHARED_KEYS`
(`key-id=secret,...`), so an old and a new key both work while a key is rotated.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.rest import Client

from intake.config import Settings
from intake.failures import OptedOut, ProviderError, Rejected, Uncertain, Unreachable

SIGNATURE_HEADER = "X-Twilio-Signature"


def base_url(settings: Settings, request: Request) -> str:
    """Where Twilio reaches us: `PUBLIC_BASE_URL`, else the address this server listens on (the
    socket's, from the ASGI scope: never the Host header a client sends)."""
    if settings.public_base_url:
        return settings.public_base_url
    scheme = request.url.scheme
    server = request.scope.get("server")
    if not server:
        return f"{scheme}://{request.url.netloc}"
    host, port = server[0], server[1]
    host = f"[{host}]" if ":" in str(host) else str(host)
    default = (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
    return f"{scheme}://{host}" + ("" if default or port is None else f":{port}")


def signed_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: the base URL (see `base_url`), path and query."""
    query = request.url.query
    return base_url(settings, request) + request.url.path + (f"?{query}" if query else "")


def signature_settings(header: str) -> dict[str, str]:
    """`key=<id>,algorithm=<name>` as a mapping (pure)."""
    found: dict[str, str] = {}
    for part in header.split(","):
        name, equals, value = part.partition("=")
        if equals and name.strip():
            found[name.strip().lower()] = value.strip()
    return found


def signing_secret(settings: Settings, request: Request) -> tuple[str, str] | None:
    """(secret, algorithm) the request says it was signed with, or None when we hold no such
    secret: the auth token with HMAC-SHA1, or the shared key its settings header names."""
    header = request.headers.get(SIGNATURE_SETTINGS_HEADER, "")
    if not header.strip():
        return (settings.twilio_auth_token, "HMAC_SHA1") if settings.twilio_auth_token else None
    named = signature_settings(header)
    secret = dict(settings.twilio_webhook_shared_keys).get(named.get("key", ""))
    if not secret:
        return None
    return secret, get_signature_algorithm(header)


def signature_is_valid(settings: Settings, request: Request, params: Mapping[str, Any]) -> bool:
    """Refuse anything not signed with a secret we hold: the auth token (HMAC-SHA1), or a shared
    key named by `X-Twilio-Webhooks-Signature-Settings` with the algorithm it names (an unknown
    key or algorithm is refused, and with neither configured every request is)."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    found = signing_secret(settings, request)
    if not signature or found is None:
        return False
    secret, algorithm = found
    validator = RequestValidator(secret)
    return bool(validator.validate(signed_url(settings, request), params, signature, algorithm))


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
