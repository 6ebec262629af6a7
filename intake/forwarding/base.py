"""The shapes every forwarder shares: the event it is handed, what it returns, what it needs.

A forwarder either returns `Delivered` or raises one of intake's provider failures
(`intake.failures`): `Rejected` when the case system answered and said no (retrying the same
request would get the same answer), `Unreachable` when it could not be reached, timed out or
failed on its side (a later attempt may well succeed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from intake.config import Settings
from intake.failures import Unreachable, for_http_status
from intake.models import Referral

# Every event a forwarder may be handed. `erased` (data-protection erasure) is defined by the
# event schema's version 2 (`payload.build_erased`); forwarders that cannot act on an event at
# all leave it out of `Forwarder.events`.
ALL_EVENTS = ("created", "updated", "erased")


@dataclass(frozen=True)
class ForwardEvent:
    """One referral event as delivered: the referral's current state plus the event's identity.

    Every event carries the whole referral, so a case system that missed an earlier event is
    brought up to date by the next one.
    """

    event: str  # "created", "updated" or "erased"
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


@dataclass(frozen=True)
class Setting:
    """A setting a forwarder cannot work without: its environment name and `Settings` field."""

    env: str
    attribute: str


def request(
    settings: Settings,
    method: str,
    url: str,
    *,
    content: bytes | None = None,
    data: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """One HTTP request with the outbound timeout; a 2xx response, else a provider failure.

    Raises `Unreachable` for a timeout, a connection error, 408, 429 and 5xx, and `Rejected` for
    any other status (`intake.failures.for_http_status`, after RFC 9110 section 15). The error
    names the status and the start of the body, never the request (it may hold personal data).
    """
    try:
        response = httpx.request(
            method,
            url,
            content=content,
            data=dict(data) if data is not None else None,
            params=dict(params) if params is not None else None,
            headers=dict(headers or {}),
            timeout=settings.outbound_timeout,
            follow_redirects=False,
        )
    except httpx.TimeoutException as exc:
        raise Unreachable(f"timed out after {settings.outbound_timeout:g}s") from exc
    except httpx.HTTPError as exc:
        raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
    if 200 <= response.status_code < 300:
        return response
    raise for_http_status(
        response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"
    )


def post(settings: Settings, url: str, body: bytes, headers: dict[str, str]) -> Delivered:
    """POST one event with the outbound timeout; map the answer onto Delivered or an error."""
    response = request(settings, "POST", url, content=body, headers=headers)
    return Delivered(response.status_code)


@dataclass(frozen=True)
class Forwarder:
    """One case-system target.

    `requires` lists the settings it cannot start without (checked when the process starts,
    `intake.forwarding.targets.check`); `check` adds rules a list cannot say (a setting that
    needs another, a value in the wrong form) and returns one sentence per problem; `probe`
    looks at the machine (a library that must load) and, being slower, runs at start only.
    `events` are the events it takes: one it cannot act on at all is not handed to it.
    """

    name: str
    send: Callable[[Settings, ForwardEvent], Delivered]
    destination: Callable[[Settings], str]  # where it goes, for the audit trail (no secrets)
    requires: tuple[Setting, ...] = ()
    check: Callable[[Settings], list[str]] | None = None
    probe: Callable[[Settings], list[str]] | None = None
    events: tuple[str, ...] = ALL_EVENTS
