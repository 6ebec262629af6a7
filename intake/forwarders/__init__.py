"""Handing referrals to the case system.

`CASE_SYSTEM` names one or more forwarders (comma-separated). Each forwarder takes a referral and
either delivers it or raises; the built-in `store` forwarder is the default: the referral is
already in intake's own database and is worked from the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable

from intake.config import Settings
from intake.models import Referral
from intake.store import Store

Forwarder = Callable[[Settings, Store, Referral], None]


def _store(settings: Settings, store: Store, referral: Referral) -> None:
    """Nothing to send: the referral is already stored where the dashboard reads it."""


FORWARDERS: dict[str, Forwarder] = {"store": _store}


def forward(settings: Settings, store: Store, referral: Referral) -> None:
    for name in settings.case_system:
        try:
            forwarder = FORWARDERS[name]
        except KeyError:
            raise ValueError(f"unknown CASE_SYSTEM forwarder {name!r}") from None
        forwarder(settings, store, referral)
    assert referral.id is not None
    store.update_referral(referral.id, forward_status="delivered")
    referral.forward_status = "delivered"
