"""Handing referrals to the case system.

`CASE_SYSTEM` names one or more forwarders (comma-separated). The built-in `store` forwarder is
the default: the referral is already in intake's own database and is worked from the dashboard.
`webhook`, `fhir`, `email`, `charitylog` and `lamplight` deliver each referral event elsewhere;
`intake.forwarding` runs them as a retried RQ job and records every attempt.

Each forwarder declares the settings it needs (`Forwarder.requires`, `Forwarder.check`);
`check(settings)` says in one line what is missing, so a process stops at start rather than
failing on its first referral.
"""

from __future__ import annotations

from intake.config import Settings
from intake.forwarding import charitylog, email, fhir, lamplight, webhook
from intake.forwarding.base import Delivered, Forwarder, ForwardEvent, Setting

__all__ = [
    "FORWARDERS",
    "Delivered",
    "ForwardEvent",
    "Forwarder",
    "ForwardingMisconfigured",
    "check",
    "configured",
    "problems",
]


class ForwardingMisconfigured(ValueError):
    """`CASE_SYSTEM` names an unknown forwarder, or one whose settings are missing or wrong."""


def _store(settings: Settings, event: ForwardEvent) -> Delivered:
    """Nothing to send: the referral is already stored where the dashboard reads it."""
    return Delivered(detail="stored")


FORWARDERS: dict[str, Forwarder] = {
    "store": Forwarder("store", _store, lambda settings: "intake database"),
    "webhook": Forwarder(
        "webhook",
        webhook.send,
        webhook.destination,
        requires=(
            Setting("CASE_WEBHOOK_URL", "case_webhook_url"),
            Setting("CASE_WEBHOOK_SECRET", "case_webhook_secret"),
        ),
    ),
    "fhir": Forwarder(
        "fhir",
        fhir.send,
        fhir.destination,
        requires=(Setting("FHIR_BASE_URL", "fhir_base_url"),),
    ),
    "email": Forwarder(
        "email", email.send, email.destination, requires=email.REQUIRES, probe=email.probe
    ),
    "charitylog": Forwarder(
        "charitylog",
        charitylog.send,
        charitylog.destination,
        requires=charitylog.REQUIRES,
        check=charitylog.check,
        events=charitylog.EVENTS,
    ),
    "lamplight": Forwarder(
        "lamplight",
        lamplight.send,
        lamplight.destination,
        requires=lamplight.REQUIRES,
        check=lamplight.check,
        events=lamplight.EVENTS,
    ),
}


def _named(settings: Settings) -> list[Forwarder]:
    found = []
    for name in settings.case_system:
        try:
            found.append(FORWARDERS[name])
        except KeyError:
            raise ForwardingMisconfigured(
                f"unknown CASE_SYSTEM forwarder {name!r} (known: {', '.join(FORWARDERS)})"
            ) from None
    return found


def problems(settings: Settings, *, machine: bool = True) -> list[str]:
    """Every configuration problem of the forwarders `CASE_SYSTEM` names, one sentence each.

    `machine` also probes this machine (the email forwarder's PDF library loads): about half a
    second, so start-up does it and `configured`, which runs in every job, does not.
    """
    try:
        named = _named(settings)
    except ForwardingMisconfigured as exc:
        return [str(exc)]
    found = []
    for forwarder in named:
        missing = [s.env for s in forwarder.requires if not getattr(settings, s.attribute)]
        if missing:
            found.append(
                f"CASE_SYSTEM names {forwarder.name} but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set"
            )
        if forwarder.check is not None:
            found += forwarder.check(settings)
        if machine and forwarder.probe is not None:
            found += forwarder.probe(settings)
    return found


def check(settings: Settings, *, machine: bool = True) -> None:
    """Raise `ForwardingMisconfigured` with one line naming every problem: what a process runs
    at start, so that it stops there instead of failing on its first referral."""
    found = problems(settings, machine=machine)
    if found:
        raise ForwardingMisconfigured("; ".join(found))


def configured(settings: Settings) -> list[Forwarder]:
    """The forwarders `CASE_SYSTEM` names, in order; raises `ForwardingMisconfigured` when one is
    unknown or its settings are missing."""
    check(settings, machine=False)
    return _named(settings)
