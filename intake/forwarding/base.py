"""The shapes every forwarder shares: the event it is handed and what it returns.

A forwarder either returns `Delivered` or raises one of intake's provider failures
(`intake.failures`): `Rejected` when the case system answered and said no (retrying the same
request would get the same answer), `Unreachable` when it could not be reached, timed out or
failed on its side (a later attempt may well succeed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from intake.config import Settings
from intake.failures import Unreachable, for_http_status
from intake.models import Referral


@dataclass(frozen=True)
class ForwardEvent:
    """One referral event as delivered: the referral's current state plus the event's identity.

    Every event carries the whole referral, so a case system that missed an earlier event is
    brought up to date by the next one.
    """

    event: str  # "created" or "updated"
    event_id: str
    sequence: int
    occurred_at: datetime
    referral: Referral
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def idempotency_key(self) -> str:
        """The reference for the creating event; reference + event id for each update."""
        if self.event == "created":
            return self.referral.reference
        return f"{self.referral.reference}:{self.event_id}"


@dataclass(frozen=True)
class Delivered:
    status_code: int | None = None
    detail: str = ""


def post(settings: Settings, url: str, body: bytes, headers: dict[str, str]) -> Delivered:
    """POST one event with the outbound timeout; map the answer onto Delivered or an error."""
    try:
        response = httpx.post(
            url,
            content=body,
            headers=headers,
            timeout=settings.outbound_timeout,
            follow_redirects=False,
        )
    except httpx.TimeoutException as exc:
        raise Unreachable(f"timed out after {settings.outbound_timeout:g}s") from exc
    except httpx.HTTPError as exc:
        raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
    if 200 <= response.status_code < 300:
        return Delivered(response.status_code)
    raise for_http_status(
        response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"
    )


@dataclass(frozen=True)
class Forwarder:
    name: str
    send: Callable[[Settings, ForwardEvent], Delivered]
    destination: Callable[[Settings], str]  # where it goes, for the audit trail (no secrets)
