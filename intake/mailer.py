"""Sending email through the outgoing relay (`SMTP_RELAY_URL`).

Used for email acknowledgements, case-team summaries and on-call alerts. One short SMTP session per
message, with a timeout, so a slow relay can never hold a worker forever.

`SMTP_RELAY_URL` forms: `smtp://host:25` (plain), `smtp+starttls://user:pass@host:587`,
`smtps://user:pass@host:465` (TLS from the start).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from intake.config import Settings


class RelayNotConfigured(Exception):
    """No `SMTP_RELAY_URL`: email cannot be sent from this deployment."""


def send_email(settings: Settings, message: EmailMessage) -> str:
    """Send one message through the relay; returns its Message-ID (set here when missing).

    Raises `smtplib.SMTPRecipientsRefused` / `SMTPResponseException` with a 5xx code when the
    relay refuses it for good, and `OSError` / 4xx `SMTPResponseException` when it may be retried.
    """
    if not settings.smtp_relay_url:
        raise RelayNotConfigured("SMTP_RELAY_URL is not set")
    url = urlsplit(settings.smtp_relay_url)
    if "Message-ID" not in message:
        domain = (settings.email_from.rpartition("@")[2] or "intake.invalid").strip(">")
        message["Message-ID"] = make_msgid(domain=domain)
    if "From" not in message:
        message["From"] = settings.email_from
    host = url.hostname or "127.0.0.1"
    timeout = settings.outbound_timeout
    if url.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, url.port or 465, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, url.port or 25, timeout=timeout)
    with client:
        if url.scheme == "smtp+starttls":
            client.starttls(context=ssl.create_default_context())
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)
    return str(message["Message-ID"]).strip("<>")
