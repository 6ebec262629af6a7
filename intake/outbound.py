"""Sending something to a person, at most once, with a record of it.

Every text or email intake sends (acknowledgement, question, alert, reply) goes through `send`:
claim a row in the store under a dedupe key, hand the message to the channel, record the outcome.
A provider that refused the message (an opted-out number, an invalid address) is recorded and not
retried; a provider that could not be reached releases the claim and raises, so the job's retry
sends it later. A request that may have reached the provider without an answer (a read timeout,
a connection dropped mid-response) is recorded as `uncertain` and never sent again: a person can
check the provider's log, but nobody gets the same text twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from intake import optout
from intake.config import Settings
from intake.store import Store, audit_entry

log = logging.getLogger(__name__)

Sender = Callable[[Settings, str, str], str]


class Rejected(Exception):
    """The provider answered and said no: retrying would not help."""


class Unreachable(Exception):
    """The provider could not be reached or failed on its side: try again later."""


class Uncertain(Exception):
    """The request may have reached the provider, but no answer came: sending again could
    send twice."""


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


@dataclass(frozen=True)
class Outcome:
    status: str  # sent, rejected, uncertain, duplicate, suppressed (an opted-out number)
    provider_id: str | None = None
    detail: str = ""


def _sms_sender(settings: Settings, to: str, body: str) -> str:
    from twilio.base.exceptions import TwilioException, TwilioRestException

    from channels.sms import send_sms

    try:
        return send_sms(settings, to, body)
    except TwilioRestException as exc:
        if exc.status in (408, 429) or exc.status >= 500:
            raise Unreachable(f"twilio {exc.status}") from exc
        raise Rejected(f"twilio {exc.status} code {exc.code}") from exc
    except TwilioException as exc:
        raise Unreachable(str(exc)) from exc
    except OSError as exc:
        if _reached_provider(exc):
            raise Uncertain(f"no answer from twilio: {type(exc).__name__}") from exc
        raise Unreachable(f"twilio unreachable: {type(exc).__name__}") from exc


def _email_sender(settings: Settings, to: str, body: str) -> str:
    """`body` is the whole message `intake.email_ack` composed; returns its Message-ID."""
    from intake.email_ack import SendDeferred, SendRefused, send_composed

    try:
        return send_composed(settings, to, body)
    except SendRefused as exc:
        raise Rejected(str(exc)) from exc
    except SendDeferred as exc:
        raise Unreachable(str(exc)) from exc


SENDERS: dict[str, Sender] = {"sms": _sms_sender, "email": _email_sender}


def send(
    settings: Settings,
    store: Store,
    *,
    channel: str,
    to: str,
    body: str,
    kind: str,
    referral_id: int | None,
    dedupe_key: str | None,
    audit_sent: str | None = None,
) -> Outcome:
    """Send once per dedupe key; `audit_sent` is an audit action recorded, by "system", in the
    same transaction as the `sent` outcome (one commit fewer than auditing afterwards)."""
    sender = SENDERS.get(channel)
    if sender is None:
        raise ValueError(f"no sender for channel {channel!r}")
    # Read the opt-out (STOP until START, intake.optout) before claiming, not after: a database
    # failure between a committed claim and the send would leave a `sending` row that makes every
    # retry think the text went, when nothing was sent (tests/faults/test_database_outage.py).
    opted_out = channel == "sms" and optout.is_opted_out(store, to)
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
    if opted_out:
        store.finish_outbound(claim, status="suppressed", detail="opted out")
        log.info("%s %s for referral %s not sent: number opted out", channel, kind, referral_id)
        return Outcome("suppressed", detail="opted out")
    try:
        provider_id = sender(settings, to, body)
    except Rejected as exc:
        store.finish_outbound(claim, status="rejected", detail=str(exc))
        if channel == "sms" and "code 21610" in str(exc):
            optout.note_provider_opt_out(store, to, f"outbound:{claim}")
        log.warning("%s %s for referral %s rejected: %s", channel, kind, referral_id, exc)
        return Outcome("rejected", detail=str(exc))
    except Unreachable:
        store.release_outbound(claim)
        raise
    except Uncertain as exc:
        store.finish_outbound(claim, status="uncertain", detail=str(exc))
        log.error("%s %s for referral %s: %s; not resent", channel, kind, referral_id, exc)
        return Outcome("uncertain", detail=str(exc))
    audit = audit_entry("system", audit_sent, referral_id=referral_id) if audit_sent else None
    store.finish_outbound(claim, status="sent", provider_id=provider_id, audit=audit)
    log.info("sent %s %s for referral %s", channel, kind, referral_id)
    return Outcome("sent", provider_id=provider_id)
