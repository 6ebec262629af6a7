"""`email`: each referral event as a referral form by email to `CASE_EMAIL_TO`, through the relay.

For services that take referrals in a shared inbox. The message is laid out like the advocacy
type's referral form (`forms/` templates: plain text and HTML bodies), with the form as a PDF, the
event as JSON (schema `referral-event.v1`, what the webhook sends) and as a one-row CSV attached.

Each event has a stable Message-ID (`<reference.event-id@domain>`) and later events refer to the
creating event's (In-Reply-To, References: RFC 5322 section 3.6.4), so a mailbox threads a
referral's updates under its first email and can drop a redelivered copy. An `erased` event
sends a notice, with no personal data, asking the mailbox's users to delete the thread.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from intake.config import Settings
from intake.failures import Rejected
from intake.forwarding import form, payload, pdf
from intake.forwarding.base import Delivered, ForwardEvent, Setting
from intake.mailer import send_email
from intake.templating import environment, render_text

REQUIRES = (
    Setting("CASE_EMAIL_TO", "case_email_to"),
    Setting("SMTP_RELAY_URL", "smtp_relay_url"),
)


def destination(settings: Settings) -> str:
    relay = urlsplit(settings.smtp_relay_url or "")
    via = f" via {relay.hostname}:{relay.port or ''}" if relay.hostname else ""
    return ", ".join(settings.case_email_to) + via


def probe(settings: Settings) -> list[str]:
    """The PDF needs WeasyPrint and Pango on this machine, unless CASE_EMAIL_PDF=false."""
    reason = pdf.unavailable() if settings.case_email_pdf else None
    if reason:
        return [
            f"the email forwarder's PDF cannot be made: {reason}; install Pango "
            "(Debian: libpango-1.0-0 libpangoft2-1.0-0) or set CASE_EMAIL_PDF=false"
        ]
    return []


def _message_id(settings: Settings, reference: str, event_id: str) -> str:
    domain = (settings.email_from.rpartition("@")[2] or "intake.invalid").strip(">")
    return f"<{reference}.{event_id}@{domain}>"


def html(settings: Settings, model: dict[str, Any]) -> str:
    """The form as HTML: `forms/<kind>.html` if the service has one, else `forms/referral.html`."""
    env = environment(settings.templates_dir)
    template = env.select_template([f"forms/{model['kind']}.html", "forms/referral.html"])
    return template.render(form=model)


def compose(settings: Settings, event: ForwardEvent) -> EmailMessage:
    """The email for one created or updated event, attachments included (no I/O)."""
    data = payload.build(event, settings.eligibility_rules)
    model = form.for_event(settings, event)
    reference = event.referral.reference
    message = EmailMessage()
    message["Subject"] = render_text(settings.templates_dir, "forms/subject.txt", form=model)
    _address(settings, message, reference, event.event_id)
    message.set_content(render_text(settings.templates_dir, "forms/referral.txt", form=model))
    page = html(settings, model)
    message.add_alternative(page, subtype="html")
    stem = f"referral-{reference}" + ("" if event.event == "created" else f"-{event.event_id}")
    if settings.case_email_pdf:
        message.add_attachment(
            pdf.render(page, settings.templates_dir),
            maintype="application",
            subtype="pdf",
            filename=f"{stem}.pdf",
        )
    message.add_attachment(
        payload.encode(data), maintype="application", subtype="json", filename=f"{stem}.json"
    )
    message.add_attachment(
        form.csv_bytes(data), maintype="text", subtype="csv", filename=f"{stem}.csv"
    )
    return message


def erasure_notice(settings: Settings, event: ForwardEvent) -> EmailMessage:
    """What an `erased` event sends: which thread to delete, and nothing about the person."""
    reference = event.referral.reference
    message = EmailMessage()
    message["Subject"] = f"Erase referral {reference}"
    _address(settings, message, reference, event.event_id)
    message.set_content(
        f"intake has erased the personal data of referral {reference} (UK GDPR Article 17).\n\n"
        f"Please delete every email about {reference} in this mailbox, this thread and its\n"
        "attachments (PDF, JSON, CSV) included, and any copy saved or printed from them.\n"
    )
    return message


def _address(settings: Settings, message: EmailMessage, reference: str, event_id: str) -> None:
    message["From"] = settings.email_from
    message["To"] = ", ".join(settings.case_email_to)
    message["Message-ID"] = _message_id(settings, reference, event_id)
    message["Intake-Reference"] = reference
    if event_id != "created":
        first = _message_id(settings, reference, "created")
        message["In-Reply-To"] = first
        message["References"] = first


def send(settings: Settings, event: ForwardEvent) -> Delivered:
    if not settings.case_email_to:
        raise Rejected("CASE_EMAIL_TO is not set")
    if event.event == "erased":
        message = erasure_notice(settings, event)
    else:
        message = compose(settings, event)
    send_email(settings, message)  # raises Rejected or Unreachable
    return Delivered(250)
