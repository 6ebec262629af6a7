"""How forwarding behaves, as pure rules: retry pauses, queue priority, event identity."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rq import Retry

from intake.config import Settings
from intake.forwarding.targets import configured
from intake.models import Referral

EVENTS = ("created", "updated", "erased")
MAX_INTERVAL = 6 * 3600


def intervals(settings: Settings) -> list[int]:
    """Pauses before attempts 2..N: `FORWARD_INTERVALS`, else `FORWARD_BACKOFF` doubling."""
    retries = settings.forward_attempts - 1
    if retries < 1:
        return []
    if settings.forward_intervals:
        given = [max(0, int(v)) for v in settings.forward_intervals][:retries]
        return given + [given[-1]] * (retries - len(given))  # RQ would reuse the first one
    return [min(settings.forward_backoff * 2**i, MAX_INTERVAL) for i in range(retries)]


def retry_policy(settings: Settings) -> Retry | None:
    pauses = intervals(settings)
    return Retry(max=len(pauses), interval=pauses) if pauses else None


def priority_for(referral: Referral) -> str:
    return "high" if referral.urgency in ("emergency", "urgent") else "default"


def remote_forwarders(settings: Settings, event: str | None = None) -> list[str]:
    """The configured forwarders that send somewhere (`store` needs no job); with `event`, only
    those that take that event (Charitylog's and Lamplight's APIs take no updates)."""
    return [
        f.name
        for f in configured(settings)
        if f.name != "store" and (event is None or event in f.events)
    ]


def state_digest(referral: Referral, messages: list[dict[str, Any]]) -> str:
    """A digest of what the case system sees of a referral (hex, 64 characters).

    An `updated` event is made only when this differs from the last event's: a job that runs
    twice for the same change, or a change the case system cannot see, sends nothing new.
    """
    state = {
        "urgency": referral.urgency,
        "safeguarding": sorted(referral.safeguarding),
        "safe_to_contact": referral.safe_to_contact,
        "status": referral.status,
        "fields": referral.fields,
        "screening": referral.screening,
        "messages": sorted(f"{m['channel']}:{m['provider_id']}" for m in messages),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def event_id_for(event: str, sequence: int, state: str) -> str:
    """`created` for the first event, `erased` for erasure; `upd-<n>-<digest>` for the n-th
    update of a referral.

    The number keeps a return to an earlier state (urgent, emergency, urgent again) a new event;
    the digest keeps two different changes made at the same moment apart.
    """
    if event in ("created", "erased"):
        return event  # once per referral each
    return f"upd-{sequence}-{state[:16]}"
