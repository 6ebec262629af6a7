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
from intake.failures import Rejected, Unreachable


def send_email(settings: Settings, message: EmailMessage) -> str:
    """Send one message through the relay; returns its Message-ID (set here when missing).

    Raises `Rejected` when there is no relay or it refuses the message for good (SMTP 5xx, RFC
    5321 section 4.2.1) and `Unreachable` when it may be retried (4xx, no connection, a timeout).
    """
    if not settings.smtp_relay_url:
        raise Rejected("SMTP_RELAY_URL is not set")
    try:
        return _send(settings, message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            raise Rejected(f"recipients refused: {codes}", codes[0]) from exc
        raise Unreachable(f"recipients deferred: {codes}", codes[0] if codes else None) from exc
    except smtplib.SMTPResponseException as exc:
        failure = Rejected if exc.smtp_code >= 500 else Unreachable
        raise failure(f"relay answered {exc.smtp_code}", exc.smtp_code) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise Unreachable(f"relay unreachable: {type(exc).__name__}") from exc


def _send(settings: Settings, message: EmailMessage) -> str:
    assert settings.smtp_relay_url
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
