"""Sending something to a person, at most once, with a record of it.

Every text or email intake sends (acknowledgement, question, alert, reply) goes through `send`:
claim a row in the store under a dedupe key, hand the message to its channel, record the outcome.
The channel maps its provider's answer onto `intake.failures`:

- `Rejected` (an invalid number or address; `OptedOut`, a number that texted STOP to the
  provider): recorded, not retried;
- `Unreachable`: the claim is released and the error raised, so the job's retry sends it later;
- `Uncertain` (the request may have reached the provider, but no answer came): recorded as
  `uncertain` and never sent again. A person can check the provider's log; nobody gets the same
  text twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from intake.failures import Rejected, Uncertain, Unreachable
from intake.models import SYSTEM_ACTOR
from intake.store import audit_entry

if TYPE_CHECKING:
    from intake.runtime import Runtime

log = logging.getLogger(__name__)

__all__ = ["Outcome", "Rejected", "Uncertain", "Unreachable", "send"]


@dataclass(frozen=True)
class Outcome:
    status: str  # sent, rejected, uncertain, duplicate, suppressed (the recipient opted out)
    provider_id: str | None = None
    detail: str = ""


def send(
    runtime: Runtime,
    *,
    channel: str,
    to: str,
    body: str,
    kind: str,
    referral_id: int | None,
    dedupe_key: str | None,
    audit_sent: str | None = None,
    actor: str = SYSTEM_ACTOR,
    audit_detail: dict[str, Any] | None = None,
) -> Outcome:
    """Send once per dedupe key on `channel`; raises `Unreachable` when it should be retried.

    `kind` is ack, question, help, alert or reply. `audit_sent` is an audit action recorded (by
    `actor`, with `audit_detail`) in the same transaction as the `sent` outcome.
    """
    store = runtime.store
    sender = runtime.channels.get(channel)
    # Ask about an opt-out before claiming, not after: a database failure between a committed
    # claim and the send would leave a `sending` row that makes every retry think the message
    # went, when nothing was sent (tests/faults/test_database_outage.py).
    suppressed = sender.suppressed(runtime, to)
    claim = store.claim_outbound(
        referral_id=referral_id,
        kind=kind,
        channel=channel,
        recipient=to,
        body=body,
        dedupe_key=dedupe_key,
    )
    if claim is None:
        return Outcome("duplicate")
    if suppressed:
        store.finish_outbound(claim, status="suppressed", detail=suppressed)
        log.info("%s %s for referral %s not sent: %s", channel, kind, referral_id, suppressed)
        return Outcome("suppressed", detail=suppressed)
    try:
        provider_id = sender.send(runtime, to, body)
    except Rejected as exc:
        store.finish_outbound(claim, status="rejected", detail=str(exc))
        log.warning("%s %s for referral %s rejected: %s", channel, kind, referral_id, exc)
        return Outcome("rejected", detail=str(exc))
    except Unreachable:
        store.release_outbound(claim)
        raise
    except Uncertain as exc:
        store.finish_outbound(claim, status="uncertain", detail=str(exc))
        log.error("%s %s for referral %s: %s; not resent", channel, kind, referral_id, exc)
        return Outcome("uncertain", detail=str(exc))
    audit = (
        audit_entry(actor, audit_sent, referral_id=referral_id, detail=audit_detail)
        if audit_sent
        else None
    )
    store.finish_outbound(claim, status="sent", provider_id=provider_id, audit=audit)
    log.info("sent %s %s for referral %s", channel, kind, referral_id)
    return Outcome("sent", provider_id=provider_id)
