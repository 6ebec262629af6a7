"""The email acknowledgement: whether to send one, what it says, and handing it to the relay.

`plan_email_ack` is pure, like `intake.acknowledge.plan`: it decides and renders, and returns an
`acknowledge.Plan` whose body is the whole RFC 5322 message (headers and text). The outbound
record therefore keeps exactly what was sent, and `send_composed` (the `email` sender registered
in `intake.outbound`) only parses it back and gives it to `intake.mailer.send_email`.

Loop protection (RFC 3834) is layered: the classifier refuses automatic mail, this module refuses
to write to our own addresses, and what we send says `Auto-Submitted: auto-replied` and asks
Exchange not to answer it (`X-Auto-Response-Suppress`).
"""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from channels.email.autoreply import Classification
from channels.email.parse import ParsedEmail
from intake.acknowledge import Plan, Skip
from intake.config import Settings
from intake.models import Referral
from intake.templating import render_text

MAX_SUBJECT_CHARS = 150
MAX_REFERENCES = 10
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|fw|fwd)\s*(\[\d+\])?\s*:\s*)+", re.I)
_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


def our_addresses(settings: Settings) -> set[str]:
    """Every address intake receives or sends on: never acknowledge mail from these."""
    own = {a.lower() for a in settings.email_addresses}
    sender = parseaddr(settings.email_from)[1].lower()
    if sender:
        own.add(sender)
    return own


def reply_address(parsed: ParsedEmail) -> str | None:
    """RFC 5322: a reply goes to Reply-To when there is one, else to From."""
    return parsed.reply_to or parsed.from_address


def ack_subject(settings: Settings, reference: str, subject: str) -> str:
    cleaned = re.sub(rf"\[?\s*{re.escape(reference)}\s*\]?", " ", subject, flags=re.I)
    cleaned = re.sub(r"^\s*auto\s*:\s*", "", cleaned, flags=re.I)
    cleaned = " ".join(_REPLY_PREFIX.sub("", cleaned).split())[:MAX_SUBJECT_CHARS]
    rendered = render_text(
        settings.templates_dir, "ack/email_subject.txt", subject=cleaned, reference=reference
    )
    return " ".join(rendered.split())


def _from_header(settings: Settings) -> str:
    name, address = parseaddr(settings.email_from)
    return formataddr((name or settings.org_name, address or settings.email_from))


def compose(
    settings: Settings, referral: Referral, parsed: ParsedEmail, to: str, body: str
) -> EmailMessage:
    """The acknowledgement as a message: threaded on theirs, marked as an automatic reply."""
    message = EmailMessage(policy=email.policy.SMTP)
    domain = parseaddr(settings.email_from)[1].rpartition("@")[2] or "intake.invalid"
    message["From"] = _from_header(settings)
    message["To"] = to
    message["Subject"] = ack_subject(settings, referral.reference, parsed.subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=domain)
    if parsed.message_id:
        chain = [*parsed.references, parsed.message_id]
        chain = list(dict.fromkeys(chain))[-MAX_REFERENCES:]
        message["In-Reply-To"] = f"<{parsed.message_id}>"
        message["References"] = " ".join(f"<{item}>" for item in chain)
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Intake-Reference"] = referral.reference
    message.set_content(body, charset="utf-8", cte="quoted-printable")
    return message


def plan_email_ack(
    settings: Settings,
    referral: Referral,
    parsed: ParsedEmail,
    classification: Classification,
    *,
    safe_to_contact: bool,
) -> Plan | Skip:
    """Decide on the acknowledgement of one email and render it; no I/O."""
    if not classification.may_acknowledge:
        return Skip(f"automatic or bulk mail ({classification.kind})")
    if not (referral.safe_to_contact and safe_to_contact):
        return Skip("not safe to contact")
    if not settings.smtp_relay_url:
        return Skip("no SMTP relay configured")
    to = (reply_address(parsed) or "").strip().lower()
    if not _ADDRESS.match(to):
        return Skip("no address to reply to")
    if to in our_addresses(settings):
        return Skip("would write to ourselves")
    template = "ack/email_emergency.txt" if referral.urgency == "emergency" else "ack/email.txt"
    body = render_text(
        settings.templates_dir,
        template,
        reference=referral.reference,
        org_name=settings.org_name,
        crisis_line=settings.crisis_line,
    )
    message = compose(settings, referral, parsed, to, body + "\n")
    return Plan(
        channel="email",
        to=to,
        body=message.as_string(),
        dedupe_key=f"ack:{referral.reference}:{to}",
    )


class SendRefused(Exception):
    """The relay refused the message for good (5xx): carries the code for the record."""


class SendDeferred(Exception):
    """The relay could not be reached or deferred the message (4xx): try again later."""


def send_composed(settings: Settings, to: str, composed: str) -> str:
    """Send a message `plan_email_ack` composed, to exactly `to`; returns its Message-ID.

    Raises `SendRefused` for permanent refusals and `SendDeferred` for anything that may work
    later; `intake.outbound` maps them onto `Rejected` and `Unreachable`.
    """
    from intake.mailer import RelayNotConfigured, send_email

    message = email.message_from_string(composed, policy=email.policy.SMTP)
    assert isinstance(message, EmailMessage)
    del message["To"]
    message["To"] = to  # one recipient, whatever the stored text says
    try:
        return send_email(settings, message)
    except RelayNotConfigured as exc:
        raise SendRefused(str(exc)) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            raise SendRefused(f"recipient refused: {codes}") from exc
        raise SendDeferred(f"recipient deferred: {codes}") from exc
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise SendRefused(f"relay refused: {exc.smtp_code}") from exc
        raise SendDeferred(f"relay deferred: {exc.smtp_code}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise SendDeferred(f"relay unreachable: {type(exc).__name__}") from exc
