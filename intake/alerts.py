"""Telling staff, at once: an emergency has come in, or one is waiting too long.

Contacts are phone numbers or email addresses (`ONCALL_DUTY_CONTACTS`, `ONCALL_MANAGER_CONTACT`);
whichever installed channel reaches that kind of address sends the notice. A notice says which
referral and why, never what the person wrote: SMS and ordinary email are not secure enough for
special-category data, and the dashboard link needs a login. Each contact is told once per
occasion (the outbound dedupe key), however often a job runs.

Occasions: a referral that arrives as an emergency; a later message that makes it one; an
advocate raising it to emergency by hand; a later message that screens as an emergency on a
referral a person had decided was less urgent (their decision stands, on-call still hears).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from intake import outbound
from intake.models import SYSTEM_ACTOR, Referral
from intake.templating import render_text

if TYPE_CHECKING:
    from intake.runtime import Runtime

log = logging.getLogger(__name__)

FIRST = "first"


def notify(
    runtime: Runtime,
    contact: str,
    *,
    subject: str,
    text: str,
    referral: Referral | None,
    dedupe_key: str,
) -> outbound.Outcome:
    """Send one notice to a member of staff, at most once per dedupe key.

    Raises `LookupError` when no installed channel can reach `contact`, and `Unreachable` when
    the provider is down (the caller's job retries).
    """
    channel = runtime.channels.for_address(contact)
    if channel is None:
        raise LookupError(f"no channel can reach the contact {_masked(contact)}")
    body = channel.compose(runtime, contact, text, subject=subject, kind="alert")
    return outbound.send(
        runtime,
        channel=channel.name,
        to=contact,
        body=body,
        kind="alert",
        referral_id=referral.id if referral else None,
        dedupe_key=dedupe_key,
    )


def _masked(contact: str) -> str:
    return contact[:3] + "…" if len(contact) > 3 else "…"


WHY = ("new", "escalated", "raised", "screened")


def alert_emergency(
    runtime: Runtime, referral: Referral, *, why: str = "new", occasion: str = FIRST
) -> list[str]:
    """Alert every on-call contact about an emergency; returns whom it reached now.

    `why` is one of `WHY` (see `templates/alerts/emergency.txt`). Unless it is `screened` (a
    message screened as an emergency on a referral whose urgency a person decided), nothing
    happens when the referral is not an emergency. `occasion` tells one alert from the next on
    the same referral (a later message's provider id, an advocate's raise); the first alert of a
    referral is `FIRST`.
    """
    if why not in WHY:
        raise ValueError(f"why must be one of {WHY}")
    settings = runtime.settings
    if referral.urgency != "emergency" and why != "screened":
        return []
    if not settings.oncall_duty_contacts:
        return []
    link = (
        f"{settings.public_base_url}/referrals/{referral.reference}"
        if settings.public_base_url
        else ""
    )
    text = render_text(
        settings.templates_dir,
        "alerts/emergency.txt",
        reference=referral.reference,
        channel=referral.channel,
        categories=referral.safeguarding,
        link=link,
        # never the model's reason itself: it quotes words of the message
        by_model=str((referral.screening or {}).get("needs_review") or "").startswith("model:"),
        why=why,
    )
    suffix = "" if occasion == FIRST else f":{occasion}"
    reached = []
    for contact in settings.oncall_duty_contacts:
        try:
            outcome = notify(
                runtime,
                contact,
                subject=f"intake EMERGENCY referral {referral.reference}",
                text=text,
                referral=referral,
                dedupe_key=f"emergency-alert:{referral.reference}:{contact}{suffix}"[:255],
            )
        except LookupError:
            log.error(
                "an on-call contact for %s cannot be reached by any channel", referral.reference
            )
            continue
        if outcome.status == "sent":
            reached.append(contact)
            channel = runtime.channels.for_address(contact)
            runtime.store.audit(
                SYSTEM_ACTOR,
                "referral.oncall_alerted",
                referral_id=referral.id,
                detail={"channel": channel.name if channel else "", "occasion": occasion},
            )
        elif outcome.status == "rejected":
            log.error("emergency alert for %s refused for one on-call contact", referral.reference)
    return reached
