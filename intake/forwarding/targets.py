"""Handing referrals to the case system.

`CASE_SYSTEM` names one or more forwarders (comma-separated). The built-in `store` forwarder is
the default: the referral is already in intake's own database and is worked from the dashboard.
`webhook`, `fhir` and `email` deliver each referral event elsewhere; `intake.forwarding` runs them
as a retried RQ job and records every attempt.
"""

from __future__ import annotations

from intake.config import Settings
from intake.forwarding import email, fhir, webhook
from intake.forwarding.base import Delivered, Forwarder, ForwardEvent

__all__ = [
    "FORWARDERS",
    "Delivered",
    "ForwardEvent",
    "Forwarder",
    "configured",
]


def _store(settings: Settings, event: ForwardEvent) -> Delivered:
    """Nothing to send: the referral is already stored where the dashboard reads it."""
    return Delivered(detail="stored")


FORWARDERS: dict[str, Forwarder] = {
    "store": Forwarder("store", _store, lambda settings: "intake database"),
    "webhook": Forwarder("webhook", webhook.send, webhook.destination),
    "fhir": Forwarder("fhir", fhir.send, fhir.destination),
    "email": Forwarder("email", email.send, email.destination),
}


def configured(settings: Settings) -> list[Forwarder]:
    """The forwarders `CASE_SYSTEM` names, in order; an unknown name is a configuration error."""
    found = []
    for name in settings.case_system:
        try:
            found.append(FORWARDERS[name])
        except KeyError:
            raise ValueError(
                f"unknown CASE_SYSTEM forwarder {name!r} (known: {', '.join(FORWARDERS)})"
            ) from None
    return found
