"""`webhook`: POST each referral event as signed JSON to `CASE_WEBHOOK_URL`.

Headers: `Intake-Signature` (see signing.py), `Idempotency-Key` (the reference for the creating
event, reference + event id for updates, so a receiver can drop a redelivery without dropping a
genuine update), `Intake-Event` (`referral.created` / `referral.updated` / `referral.erased`).
An erased event is schema `referral-event.v2` and carries the reference alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from intake.config import Settings
from intake.failures import Rejected
from intake.forwarding import payload, signing
from intake.forwarding.base import Delivered, ForwardEvent, post

USER_AGENT = "intake-forwarder/1"


def destination(settings: Settings) -> str:
    url = urlsplit(settings.case_webhook_url)
    return f"{url.scheme}://{url.hostname or ''}{f':{url.port}' if url.port else ''}{url.path}"


def send(settings: Settings, event: ForwardEvent) -> Delivered:
    if not settings.case_webhook_url:
        raise Rejected("CASE_WEBHOOK_URL is not set")
    if not settings.case_webhook_secret:
        raise Rejected("CASE_WEBHOOK_SECRET is not set: intake never sends unsigned referrals")
    body = payload.encode(payload.build(event, settings.eligibility_rules))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.HEADER: signing.header_value(settings.case_webhook_secret, body),
        "Idempotency-Key": event.idempotency_key,
        "Intake-Event": f"referral.{event.event}",
    }
    return post(settings, settings.case_webhook_url, body, headers)
