"""What intake writes by email: acknowledgements, advocates' replies, staff notices.

Everything is composed here as a whole RFC 5322 message (headers and text), so the outbound
record keeps exactly what was sent; `send_composed` only parses it back and hands it to the
relay (`intake.mailer`, whose errors are already `intake.failures`).

`plan` is pure but for reading templates. Loop protection (RFC 3834) is layered: the classifier
refuses automatic mail, `plan` refuses to write to our own addresses, and an acknowledgement says
`Auto-Submitted: auto-replied` and asks Exchange not to answer it (`X-Auto-Response-Suppress`).
Backscatter protection: an acknowledgement goes only to a sender the mail can be trusted to come
from (`acknowledgement_address`), with a subject of our own, within per-recipient and per-source
limits (`intake.ratelimit`).
A reply an advocate writes is a person's mail: threaded on the sender's last message (RFC 5322
section 3.6.4), with no Auto-Submitted header.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import html
import re
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any

from channels.email import trust
from intake import acknowledge
from intake.acknowledge import Plan, Skip
from intake.config import Settings
from intake.extraction.questions import type_question_keys
from intake.languages import Choice, Rendered, render
from intake.mailer import send_email
from intake.models import InboundMessage, Referral
from intake.templating import render_text

CHANNEL = "email"
MAX_SUBJECT_CHARS = 150
MAX_REFERENCES = 10
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|fw|fwd)\s*(\[\d+\])?\s*:\s*)+", re.I)
_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


def is_address(value: str) -> bool:
    return bool(_ADDRESS.match(value.strip()))


def our_addresses(settings: Settings) -> set[str]:
    """Every address intake receives or sends on: never acknowledge mail from these."""
    own = {a.lower() for a in settings.email_addresses}
    sender = parseaddr(settings.email_from)[1].lower()
    if sender:
        own.add(sender)
    return own


def reply_address(meta: Mapping[str, Any], sender: str) -> str:
    """RFC 5322 section 3.6.2: a reply goes to Reply-To when there is one, else to From."""
    return str(meta.get("reply_to") or sender or "").strip().lower()


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


def _new_message(settings: Settings, to: str, subject: str) -> EmailMessage:
    message = EmailMessage(policy=email.policy.SMTP)
    domain = parseaddr(settings.email_from)[1].rpartition("@")[2] or "intake.invalid"
    message["From"] = _from_header(settings)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=domain)
    return message


def _thread_on(message: EmailMessage, meta: Mapping[str, Any]) -> None:
    """In-Reply-To and References for a reply to the message whose meta this is."""
    message_id = meta.get("message_id")
    if not message_id:
        return
    chain = [*(meta.get("references") or []), message_id]
    chain = list(dict.fromkeys(str(item) for item in chain))[-MAX_REFERENCES:]
    message["In-Reply-To"] = f"<{message_id}>"
    message["References"] = " ".join(f"<{item}>" for item in chain)


def compose_acknowledgement(
    settings: Settings,
    referral: Referral,
    meta: Mapping[str, Any],
    to: str,
    body: str | Rendered,
) -> EmailMessage:
    """The acknowledgement: threaded on their message, marked as an automatic reply.

    Its subject is ours alone: never the sender's words, so an acknowledgement can never carry
    a stranger's subject line, from the organisation's address, to whomever they named. It is
    in the sender's language; with a `Rendered` body the message also says which language it
    is in (`Content-Language`, RFC 3282) and carries an HTML alternative whose `lang` and `dir`
    attributes let mail programs show Urdu or Arabic right to left (HTML: the dir attribute).
    """
    subject = " ".join(
        acknowledge.localized(
            settings, "ack/email_subject.txt", referral, single=True, subject=""
        ).text.split()
    )
    message = _new_message(settings, to, subject)
    _thread_on(message, meta)
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Intake-Reference"] = referral.reference
    if isinstance(body, str):
        message.set_content(body, charset="utf-8", cte="quoted-printable")
        return message
    message.set_content(body.text + "\n", charset="utf-8", cte="quoted-printable")
    message.add_alternative(_html(body), subtype="html", charset="utf-8", cte="quoted-printable")
    # After the content: set_content clears every Content-* header.
    message["Content-Language"] = ", ".join(dict.fromkeys(part[1] for part in body.parts))
    return message


def _html(body: Rendered) -> str:
    """The acknowledgement as HTML, one section per language with its own lang and dir."""
    sections = []
    for text, lang, direction in body.parts:
        paragraphs = "".join(
            f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>"
            for p in text.split("\n\n")
            if p.strip()
        )
        sections.append(f'<div lang="{lang}" dir="{direction}">{paragraphs}</div>')
    return (
        f'<!DOCTYPE html><html lang="{body.lang}" dir="{body.dir}"><head><meta charset="utf-8">'
        f"</head><body>{'<hr>'.join(sections)}</body></html>"
    )


def acknowledgement_address(message: InboundMessage) -> str | None:
    """Where an automatic acknowledgement may go: the From address, only when the mail can be
    trusted to come from it (`trust.assess`; RFC 3834 section 4 sends automatic responses to
    the envelope sender, which it then equals). Never a Reply-To: anyone can name anyone there,
    and an acknowledgement from the organisation's address is what a backscatter spammer wants.
    """
    if not message.meta.get(trust.VERIFIED):
        return None
    return message.sender.strip().lower()


def plan(settings: Settings, referral: Referral, message: InboundMessage) -> Plan | Skip:
    """Decide on the acknowledgement of one email and render it."""
    meta = message.meta
    if not meta.get("may_acknowledge", True):
        return Skip(f"automatic or bulk mail ({meta.get('classification', 'unknown')})")
    if not referral.safe_to_contact:
        return Skip("not safe to contact")
    if not settings.smtp_relay_url:
        return Skip("no SMTP relay configured")
    to = acknowledgement_address(message)
    if to is None:
        return Skip(f"sender not verified ({meta.get(trust.REASON) or 'unknown'})")
    if not is_address(to):
        return Skip("no address to reply to")
    if to in our_addresses(settings):
        return Skip("would write to ourselves")
    emergency = referral.urgency == "emergency"
    template = "ack/email_emergency.txt" if emergency else "ack/email.txt"
    choice = acknowledge.choice_for(settings, referral)
    body = acknowledge.localized(settings, template, referral, choice=choice)
    question = None if emergency else acknowledge.ask_language(settings, referral, choice)
    if question:
        body = _append(body, question, body.lang, body.dir)
    # What happens next when the pre-check finds the person may be outside the criteria (the
    # rules' own wording, English), and otherwise what the advocacy type still needs, asked
    # together (a letter, not a text conversation); never beside the 999 advice, which goes alone.
    steps = "" if emergency else acknowledge.next_steps(settings, referral)
    if steps:
        body = _append(body, steps, "en", "ltr")
    keys = (
        []
        if emergency or steps
        else type_question_keys(referral.fields, settings.conversation_max_questions)
    )
    for text, lang, direction in _questions(settings, choice, keys):
        body = _append(body, text, lang, direction)
    composed = compose_acknowledgement(settings, referral, meta, to, body)
    return Plan(
        channel=CHANNEL,
        to=to,
        body=composed.as_string(),
        dedupe_key=acknowledge.ack_dedupe_key(referral, to),
    )


def compose_reply(
    settings: Settings,
    referral: Referral,
    to: str,
    text: str,
    messages: Iterable[Mapping[str, Any]],
) -> str:
    """An advocate's reply: threaded on the last email the person sent, our reference in the
    subject, the organisation's From."""
    last: Mapping[str, Any] = {}
    for stored in messages:
        if stored["channel"] == CHANNEL and (stored.get("meta") or {}).get("message_id"):
            last = stored["meta"]
    subject = ack_subject(settings, referral.reference, str(last.get("subject") or ""))
    message = _new_message(settings, to, re.sub(r"^Auto:\s*", "", subject))
    _thread_on(message, last)
    message["X-Intake-Reference"] = referral.reference
    message.set_content(text.rstrip("\n") + "\n", charset="utf-8", cte="quoted-printable")
    return message.as_string()


def compose_notice(settings: Settings, to: str, subject: str, text: str) -> str:
    """A notice to a member of staff (an on-call alert): automatic, never threaded."""
    message = _new_message(settings, to, subject)
    message.replace_header("From", settings.email_from)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text.rstrip("\n") + "\n", charset="utf-8")
    return message.as_string()


def send_composed(settings: Settings, to: str, composed: str) -> str:
    """Send a composed message to exactly `to`; returns its Message-ID.

    Raises `intake.failures.Rejected` or `Unreachable` (see `intake.mailer.send_email`).
    """
    message = email.message_from_string(composed, policy=email.policy.SMTP)
    assert isinstance(message, EmailMessage)
    del message["To"]
    message["To"] = to  # one recipient, whatever the stored text says
    return send_email(settings, message)


def _append(body: Rendered, text: str, lang: str, direction: str) -> Rendered:
    """`body` with one more paragraph, in its own language part (BCP 47 `lang`, `dir`)."""
    return dataclasses.replace(
        body, text=f"{body.text.rstrip()}\n\n{text}", parts=(*body.parts, (text, lang, direction))
    )


def _questions(
    settings: Settings, choice: Choice, keys: list[str]
) -> list[tuple[str, str, str]]:
    """The email follow-up (`ack/email_questions.txt` listing `questions/<key>.txt`) in each of
    the choice's languages, as (text, BCP 47 lang, dir); English where a translation is missing."""
    if not keys:
        return []
    found = []
    for code in choice.languages():
        one = Choice(code)
        asked = [
            render(settings.templates_dir, f"questions/{key}.txt", one, lines=False).text.strip()
            for key in keys
        ]
        frame = render(
            settings.templates_dir, "ack/email_questions.txt", one, lines=False, questions=asked
        )
        found.append((frame.text.strip(), frame.lang, frame.dir))
    return found
