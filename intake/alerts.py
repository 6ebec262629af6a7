"""Telling the on-call duty advocate, at once, that an emergency has come in.

Contacts are phone numbers (SMS) or email addresses in `ONCALL_DUTY_CONTACTS`. The alert says
which referral and why, never what the person wrote: SMS and ordinary email are not secure enough
for special-category data, and the dashboard link needs a login. Each contact is alerted once per
referral (the outbound dedupe key), however often the job runs.
"""

from __future__ import annotations

import email.policy
import logging
from email.message import EmailMessage
from email.utils import formatdate

from intake import outbound
from intake.config import Settings
from intake.models import Referral
from intake.runtime import Runtime
from intake.templating import render_text

log = logging.getLogger(__name__)


def channel_for(contact: str) -> str:
    return "email" if "@" in contact else "sms"


def email_notice(settings: Settings, to: str, subject: str, text: str) -> str:
    """A plain notice as the text the email sender expects (a whole RFC 5322 message)."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = settings.email_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text + "\n", charset="utf-8")
    return message.as_string()


def notify(
    runtime: Runtime,
    contact: str,
    *,
    subject: str,
    text: str,
    referral_id: int | None,
    dedupe_key: str,
) -> outbound.Outcome:
    """Send one notice to a member of staff by SMS or email, at most once per dedupe key."""
    channel = channel_for(contact)
    body = email_notice(runtime.settings, contact, subject, text) if channel == "email" else text
    return outbound.send(
        runtime.settings,
        runtime.store,
        channel=channel,
        to=contact,
        body=body,
        kind="alert",
        referral_id=referral_id,
        dedupe_key=dedupe_key,
    )


def alert_emergency(runtime: Runtime, referral: Referral) -> list[str]:
    """Alert every on-call contact about an emergency referral; returns whom it reached now."""
    settings = runtime.settings
    if referral.urgency != "emergency" or not settings.oncall_duty_contacts:
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
    )
    reached = []
    for contact in settings.oncall_duty_contacts:
        outcome = notify(
            runtime,
            contact,
            subject=f"intake EMERGENCY referral {referral.reference}",
            text=text,
            referral_id=referral.id,
            dedupe_key=f"emergency-alert:{referral.reference}:{contact}",
        )
        if outcome.status == "sent":
            reached.append(contact)
            runtime.store.audit(
                "system",
                "referral.oncall_alerted",
                referral_id=referral.id,
                detail={"channel": channel_for(contact)},
            )
        elif outcome.status == "rejected":
            log.error("emergency alert for %s refused for one on-call contact", referral.reference)
    return reached
