"""`email`: a plain-text summary of each referral event to `CASE_EMAIL_TO` through the relay.

For services whose case system only takes email. Each event has a stable Message-ID
(`<reference.event-id@domain>`), and updates refer to the creating event's, so a mailbox threads
them as one case and can drop a redelivered copy.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from intake.config import Settings
from intake.failures import Rejected
from intake.forwarding import payload
from intake.forwarding.base import Delivered, ForwardEvent
from intake.mailer import send_email


def destination(settings: Settings) -> str:
    relay = urlsplit(settings.smtp_relay_url or "")
    via = f" via {relay.hostname}:{relay.port or ''}" if relay.hostname else ""
    return ", ".join(settings.case_email_to) + via


def _message_id(settings: Settings, reference: str, event_id: str) -> str:
    domain = (settings.email_from.rpartition("@")[2] or "intake.invalid").strip(">")
    return f"<{reference}.{event_id}@{domain}>"


def summary(data: dict[str, Any]) -> str:
    """The email body: what a case worker needs first, then every message in full."""
    referral = data["referral"]
    found = referral["details"]
    lines = [
        f"Referral {referral['reference']} ({data['type']}, event {data['id']})",
        "",
        f"Urgency:          {referral['urgency']}",
        f"Safe to contact:  {'yes' if referral['safe_to_contact'] else 'NO - do not contact back'}",
        f"Safeguarding:     {', '.join(referral['safeguarding']) or 'none found'}",
        f"Received:         {referral['received_at']} by {referral['channel']}",
        f"From:             {referral['sender']}",
    ]
    if found:
        lines += ["", "Details found in the messages (check before relying on them):"]
        lines += [f"  {key}: {value}" for key, value in sorted(found.items())]
    lines += ["", f"Messages ({len(referral['messages'])}):"]
    for message in referral["messages"]:
        lines += ["", f"--- {message['received_at']} {message['channel']} {message['sender']}"]
        lines += [message["body"]]
    return "\n".join(lines) + "\n"


def send(settings: Settings, event: ForwardEvent) -> Delivered:
    if not settings.case_email_to:
        raise Rejected("CASE_EMAIL_TO is not set")
    data = payload.build(event)
    reference = event.referral.reference
    message = EmailMessage()
    kind = "New referral" if event.event == "created" else "Update to referral"
    message["Subject"] = f"{kind} {reference} ({event.referral.urgency})"
    message["From"] = settings.email_from
    message["To"] = ", ".join(settings.case_email_to)
    message["Message-ID"] = _message_id(settings, reference, event.event_id)
    message["Intake-Reference"] = reference
    if event.event != "created":
        first = _message_id(settings, reference, "created")
        message["In-Reply-To"] = first
        message["References"] = first
    message.set_content(summary(data))
    send_email(settings, message)  # raises Rejected or Unreachable
    return Delivered(250)
