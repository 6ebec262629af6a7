"""Sign requests the way Twilio does, with the real validator's own algorithm."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from twilio.request_validator import RequestValidator


def sign(token: str, url: str, params: Mapping[str, str]) -> str:
    return RequestValidator(token).compute_signature(url, dict(params))


def post_signed(
    client: httpx.Client,
    url: str,
    params: Mapping[str, str],
    token: str,
    *,
    signed_url: str | None = None,
) -> httpx.Response:
    """POST a form signed for `signed_url` (the public URL Twilio called; defaults to `url`)."""
    signature = sign(token, signed_url or url, params)
    return client.post(url, data=dict(params), headers={"X-Twilio-Signature": signature})
