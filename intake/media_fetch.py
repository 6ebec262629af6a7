"""Fetching what Twilio stores for us (MMS and WhatsApp media, voicemail recordings), safely.

Twilio keeps media at `https://api.twilio.com/2010-04-01/Accounts/<AccountSid>/...` and answers
a request that carries the account's credentials (HTTP Basic) with a redirect to its media CDN
(`*.twiliocdn.com`, a short-lived signed URL). A URL in a webhook is data an attacker could shape
(or a bug could), so:

- the first request must be to Twilio's API host (`TWILIO_API_BASE_URL`'s scheme, host and port)
  and to our own account's path; the credentials go to that host only, never to a redirect;
- a redirect may only lead to the API host or a host in `TWILIO_MEDIA_HOSTS` (host names, or
  suffixes starting with a dot), over https, at most `MAX_REDIRECTS` times;
- the body is read in chunks and abandoned past `max_bytes`, and the whole fetch past
  `deadline` seconds.

Every refusal or failure is a `FetchFailed` with a reason fit for a log line (never the URL's
secrets); `retry` says whether trying again later may help (Twilio or the network down).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from intake.config import Settings

MAX_REDIRECTS = 3
CHUNK = 64 * 1024


class FetchFailed(Exception):
    """The file could not (or must not) be fetched; `retry`: a later attempt may work."""

    def __init__(self, reason: str, *, retry: bool = False) -> None:
        super().__init__(reason)
        self.retry = retry


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port
    if port is None:
        port = 443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def media_host_allowed(settings: Settings, url: str) -> bool:
    """Whether a redirect may lead to `url`: the API host, or https to a media host."""
    if _origin(url) == _origin(settings.twilio_api_base_url):
        return True
    scheme, host, _port = _origin(url)
    # https, or plain http only when the API itself is (a local stand-in in tests)
    if scheme not in ("https", _origin(settings.twilio_api_base_url)[0]) or not host:
        return False
    for allowed in settings.twilio_media_hosts:
        allowed = allowed.lower()
        if host == allowed.lstrip(".") or (allowed.startswith(".") and host.endswith(allowed)):
            return True
    return False


def is_account_url(settings: Settings, url: str) -> bool:
    """Whether `url` is on Twilio's API host, under our account (where a fetch may start)."""
    if _origin(url) != _origin(settings.twilio_api_base_url):
        return False
    path = urlsplit(url).path
    return path.startswith(f"/2010-04-01/Accounts/{settings.twilio_account_sid}/")


def fetch(settings: Settings, url: str, *, max_bytes: int, deadline: float) -> Fetched:
    """The bytes at `url` (see the module docstring); raises `FetchFailed`."""
    if not is_account_url(settings, url):
        raise FetchFailed("not a media URL of this Twilio account: refused")
    started = time.monotonic()
    auth = (settings.twilio_account_sid, settings.twilio_auth_token)
    timeout = httpx.Timeout(min(settings.outbound_timeout, deadline))
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            credentials = auth if _origin(url) == _origin(settings.twilio_api_base_url) else None
            try:
                with client.stream("GET", url, auth=credentials) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        if not media_host_allowed(settings, target):
                            raise FetchFailed("redirected to a host that is not Twilio's: refused")
                        url = target
                        continue
                    status = response.status_code
                    if status >= 400:
                        retry = status in (404, 408, 429) or status >= 500
                        raise FetchFailed(f"answered {status}", retry=retry)
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > max_bytes:
                        raise FetchFailed(f"{declared} bytes, over the {max_bytes}-byte limit")
                    body = bytearray()
                    for chunk in response.iter_bytes(CHUNK):
                        body += chunk
                        if len(body) > max_bytes:
                            raise FetchFailed(f"over the {max_bytes}-byte limit")
                        if time.monotonic() - started > deadline:
                            raise FetchFailed(f"took longer than {deadline:g} s", retry=True)
                    content_type = response.headers.get("content-type", "").split(";")[0]
                    return Fetched(bytes(body), content_type.strip().lower())
            except httpx.HTTPError as exc:
                raise FetchFailed(f"unreachable ({type(exc).__name__})", retry=True) from exc
    raise FetchFailed("too many redirects")
