"""Email end to end on real sockets: smtplib → intake's SMTP server → Redis → a real worker →
the store, and acknowledgements out through a second aiosmtpd server acting as the relay."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from intake.config import Settings
from intake.models import Referral
from intake.queue import queue_name
from intake.runtime import Runtime
from intake.screening import screen
from intake.store.schema import messages
from tests.channels.email.conftest import fixture_bytes
from tests.channels.email.smtp_support import (
    INTAKE_ADDRESS,
    RecordingRelay,
    Relayed,
    deliver,
    email_settings,
    intake_smtp,
)
from tests.fixtures.email._builders import make_docx, make_pdf
from tests.support.servers import free_port
from worker import build_worker

ROUTINE = (
    "Hello,\n\nI would like to refer my father, Geoffrey Lane, for Care Act advocacy. He has a "
    "care and support assessment at the end of the month and finds it hard to follow what is "
    "being said.\n\nThank you,\nAmira Lane\n"
)
EMERGENCY = (
    "My son Callum has taken 40 paracetamol tonight and says he wants to die. I don't know "
    "what to do.\n"
)


def work(runtime: Runtime) -> None:
    build_worker(runtime, simple=True).work(burst=True)


def new_email(
    body: str = ROUTINE,
    *,
    sender: str = "Amira Lane <amira.lane@example.com>",
    subject: str = "Referral for my father",
    message_id: str | None = "<amira-1@example.com>",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = INTAKE_ADDRESS
    message["Subject"] = subject
    message["Date"] = "Wed, 04 Jun 2025 10:15:00 +0100"
    if message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def only_referral(runtime: Runtime) -> Referral:
    referrals = runtime.store.list_referrals(limit=10)
    assert len(referrals) == 1, [r.reference for r in referrals]
    return referrals[0]


def ack_of(relay: RecordingRelay) -> Relayed:
    assert len(relay.received) == 1, f"{len(relay.received)} messages relayed"
    return relay.received[0]


def test_plain_email_becomes_a_referral_and_is_acknowledged_by_email(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    deliver(smtp, new_email(), mail_from="amira.lane@example.com")
    work(runtime)

    referral = only_referral(runtime)
    assert referral.channel == "email"
    assert referral.sender == "amira.lane@example.com"
    assert "Geoffrey Lane" in referral.raw_text
    assert "Referral for my father" in referral.raw_text  # the subject is screened too
    (message,) = runtime.store.messages_for(referral.id or 0)
    assert message["provider_id"] == "amira-1@example.com"
    assert message["recipient"] == INTAKE_ADDRESS
    assert message["meta"]["subject"] == "Referral for my father"

    ack = ack_of(relay)
    assert ack.rcpt_tos == ["amira.lane@example.com"]
    assert ack.mail_from == "referrals@advocacy.example.org"
    headers = ack.message
    assert headers["Auto-Submitted"] == "auto-replied"
    assert headers["In-Reply-To"] == "<amira-1@example.com>"
    assert headers["References"] == "<amira-1@example.com>"
    # our words only: an acknowledgement never carries the sender's subject (backscatter)
    assert headers["Subject"] == f"Auto: We've received your referral [{referral.reference}]"
    assert headers["To"] == "amira.lane@example.com"
    assert "referrals@advocacy.example.org" in headers["From"]
    body = headers.get_body(preferencelist=("plain",)).get_content()
    assert referral.reference in body
    assert "999" in body and not body.startswith("If you or someone else is in danger")

    (outbound,) = runtime.store.outbound_for(referral.id or 0)
    assert outbound["status"] == "sent"
    assert outbound["channel"] == "email"
    assert f"<{outbound['provider_id']}>" == headers["Message-ID"]


def test_emergency_email_gets_the_emergency_acknowledgement(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    deliver(smtp, new_email(EMERGENCY, subject=""))
    work(runtime)
    referral = only_referral(runtime)
    assert referral.urgency == "emergency"
    ack = ack_of(relay).message
    assert ack["Subject"] == f"Auto: We've received your referral [{referral.reference}]"
    body = ack.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith("If you or someone else is in danger now, call 999.")
    assert "116 123" in body


def test_acknowledgement_goes_to_the_verified_sender_never_to_reply_to(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    """RFC 3834 section 4: an automatic reply goes to the envelope sender (here equal to From);
    a Reply-To anyone can set is left to a person (an advocate's reply uses it)."""
    deliver(smtp, new_email(Reply_To="Ward 7 Office <ward7.office@example-trust.nhs.uk>"))
    work(runtime)
    ack = ack_of(relay)
    assert ack.rcpt_tos == ["amira.lane@example.com"]
    assert ack.message["To"] == "amira.lane@example.com"


def test_not_safe_to_contact_gets_no_acknowledgement(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    text = "Please do not reply to this email, my husband reads my emails. He hits me.\n"
    deliver(smtp, new_email(text))
    work(runtime)
    referral = only_referral(runtime)
    assert referral.safe_to_contact is False
    assert relay.received == []
    assert runtime.store.outbound_for(referral.id or 0) == []


def test_html_only_email_is_read_as_text(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    message = new_email()
    message.set_content(
        "<html><head><style>p {font-family: Arial}</style></head><body>"
        "<p>Dear team,</p><p>I am referring <b>Mrs Joan Pritchard</b> for an IMCA: she is "
        "facing a move from hospital to a nursing home and has nobody to consult.</p>"
        "<ul><li>Ward: Elm Ward</li><li>Contact: 0161 496 0123</li></ul></body></html>",
        subtype="html",
    )
    deliver(smtp, message)
    work(runtime)
    referral = only_referral(runtime)
    assert "Mrs Joan Pritchard" in referral.raw_text
    assert "Elm Ward" in referral.raw_text
    assert "<p>" not in referral.raw_text and "font-family" not in referral.raw_text
    assert len(relay.received) == 1


def test_pdf_and_docx_attachments_are_kept_and_their_text_is_screened(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    pdf = make_pdf(
        [["REFERRAL FORM", "Name: Owen Tranter", "Reason: IMHA, detained under section 3"]]
    )
    form_risk = "Risk: he said today he has taken 40 paracetamol and wants to die"
    docx = make_docx(["Referral form", form_risk], [("Ward", "Ash Ward"), ("Consultant", "Dr Rao")])
    photo = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    message = new_email("Hello, please see the two forms attached for Owen.\n")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="IMHA form.pdf")
    message.add_attachment(
        docx,
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="Risk assessment.docx",
    )
    message.add_attachment(photo, maintype="image", subtype="png", filename="letter.png")
    deliver(smtp, message)
    work(runtime)

    referral = only_referral(runtime)
    assert "Owen Tranter" in referral.raw_text  # from the PDF
    assert "Ash Ward" in referral.raw_text  # from the DOCX table
    assert screen("Hello, please see the two forms attached for Owen.").urgency != "emergency"
    assert referral.urgency == "emergency"  # only the DOCX says so
    kept = runtime.store.attachments.for_referral(referral.id or 0)
    assert [(a["filename"], a["content_type"], a["size"]) for a in kept] == [
        ("IMHA form.pdf", "application/pdf", len(pdf)),
        (
            "Risk assessment.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            len(docx),
        ),
        ("letter.png", "image/png", len(photo)),
    ]
    assert "data" not in kept[0]
    stored = runtime.store.attachments.get(kept[1]["id"])
    assert stored is not None and stored["data"] == docx
    assert "Ash Ward" in (stored["text"] or "")


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("iso-8859-1", "Zoë Lefèvre needs help with a care home fee of £240 a week.\n"),
        ("windows-1252", "Her son said \u201cwe can\u2019t cope\u201d \u2013 £90 owed.\n"),
    ],
)
def test_non_utf8_charsets_are_decoded(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay, charset: str, text: str
) -> None:
    head = (
        "From: =?iso-8859-1?q?Zo=EB_Lef=E8vre?= <zoe.lefevre@example.fr>\r\n"
        f"To: {INTAKE_ADDRESS}\r\n"
        "Subject: =?windows-1252?q?R=E9f=E9rence_=96_aide?=\r\n"
        f"Message-ID: <charset-{charset}@example.fr>\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    raw = head.encode("ascii") + text.replace("\n", "\r\n").encode(charset)
    deliver(smtp, raw, mail_from="zoe.lefevre@example.fr")
    work(runtime)
    referral = only_referral(runtime)
    assert text.strip() in referral.raw_text
    (message,) = runtime.store.messages_for(referral.id or 0)
    assert message["meta"]["subject"] == "Référence – aide"
    assert message["meta"]["from_name"] == "Zoë Lefèvre"
    subject = ack_of(relay).message["Subject"]
    assert subject == f"Auto: We've received your referral [{referral.reference}]"


def test_reply_to_the_acknowledgement_joins_the_referral_and_is_rescreened(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    deliver(smtp, new_email())
    work(runtime)
    referral = only_referral(runtime)
    assert referral.urgency == "routine"
    ack = ack_of(relay).message

    reply = new_email(
        EMERGENCY,
        subject=f"Re: {ack['Subject']}",
        message_id="<amira-2@example.com>",
        In_Reply_To=ack["Message-ID"],
        References=f"<amira-1@example.com> {ack['Message-ID']}",
    )
    deliver(smtp, reply)
    work(runtime)

    after = only_referral(runtime)
    assert after.reference == referral.reference
    stored = runtime.store.messages_for(referral.id or 0)
    assert [m["provider_id"] for m in stored] == ["amira-1@example.com", "amira-2@example.com"]
    assert stored[1]["meta"]["joined_by"] == "headers"
    assert after.urgency == "emergency"  # re-screened, raised
    actions = [a["action"] for a in runtime.store.audit_for(referral.id)]
    assert "referral.message_added" in actions and "referral.escalated" in actions
    assert len(relay.received) == 1  # one acknowledgement per sender per referral


def test_urgency_is_never_lowered_by_a_reply(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    deliver(smtp, new_email(EMERGENCY))
    work(runtime)
    referral = only_referral(runtime)
    assert referral.urgency == "emergency"
    reply = new_email(
        "Thank you. He is safe in hospital now, nothing else needed today.\n",
        message_id="<amira-3@example.com>",
        In_Reply_To="<amira-1@example.com>",
    )
    deliver(smtp, reply)
    work(runtime)
    after = only_referral(runtime)
    assert after.urgency == "emergency"
    assert len(runtime.store.messages_for(referral.id or 0)) == 2


def test_a_reference_quoted_from_another_address_is_a_referral_of_its_own_linked_to_it(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    """A GP quoting the family's reference may well be about the same person, but anyone can
    quote a reference: a person confirms the link, and the GP's acknowledgement names only the
    GP's own referral."""
    deliver(smtp, new_email())
    work(runtime)
    referral = only_referral(runtime)
    from_gp = new_email(
        "I support this referral; Mr Lane has mild dementia.\n",
        sender="Dr Ruth Okoye <r.okoye@example.nhs.uk>",
        subject=f"{referral.reference.lower()} - GP letter",
        message_id="<gp-letter-1@example.nhs.uk>",
    )
    deliver(smtp, from_gp)
    work(runtime)
    referrals = runtime.store.list_referrals(limit=10)
    assert len(referrals) == 2
    gp = next(r for r in referrals if r.reference != referral.reference)
    assert len(runtime.store.messages_for(referral.id or 0)) == 1
    [link] = runtime.store.links.touching(referral.id or 0)
    assert (link["referral_id"], link["reason"]) == (gp.id, "quoted_reference")
    to_gp = next(r for r in relay.received if r.rcpt_tos == ["r.okoye@example.nhs.uk"])
    body = to_gp.message.get_body(preferencelist=("plain",)).get_content()
    assert gp.reference in body and referral.reference not in body
    assert referral.reference not in str(to_gp.message["Subject"])


def test_unknown_reference_makes_a_new_referral(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    deliver(smtp, new_email(subject="About REF-2345AB from last year"))
    work(runtime)
    assert only_referral(runtime).reference != "REF-2345AB"


def test_out_of_office_reply_is_recorded_not_a_referral_not_answered(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    deliver(smtp, new_email())
    work(runtime)
    referral = only_referral(runtime)
    ack = ack_of(relay).message

    ooo = new_email(
        "I am out of the office until Monday 16 June with no access to email.\n",
        sender="Amira Lane <amira.lane@example.com>",
        subject=f"Automatic reply: {ack['Subject']}",
        message_id="<ooo-1@example.com>",
        In_Reply_To=ack["Message-ID"],
        Auto_Submitted="auto-replied",
    )
    deliver(smtp, ooo)
    work(runtime)

    assert only_referral(runtime).reference == referral.reference
    assert len(runtime.store.messages_for(referral.id or 0)) == 1
    assert len(relay.received) == 1  # nothing sent back to an auto-reply
    (event,) = runtime.store.mail_events.recorded()
    assert event["kind"] == "auto_reply"
    assert event["referral_id"] == referral.id
    assert event["provider_id"] == "ooo-1@example.com"


def test_bounce_of_an_acknowledgement_is_recorded_against_it(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    deliver(smtp, new_email())
    work(runtime)
    referral = only_referral(runtime)
    ack = ack_of(relay)

    bounce = EmailMessage()
    bounce["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.com>"
    bounce["To"] = INTAKE_ADDRESS
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce["Message-ID"] = "<bounce-1@mx.example.com>"
    bounce.set_content("This is the mail system at host mx.example.com.\n\nUser unknown.\n")
    bounce.add_attachment(ack.message)  # the returned message, as message/rfc822
    deliver(smtp, bounce, mail_from="<>")
    work(runtime)

    assert runtime.store.count_referrals() == 1
    assert len(relay.received) == 1
    (event,) = runtime.store.mail_events.recorded()
    assert event["kind"] == "bounce"
    assert event["referral_id"] == referral.id
    (outbound,) = runtime.store.outbound_for(referral.id or 0)
    assert outbound["status"] == "bounced"


def test_duplicate_message_id_makes_one_referral_and_one_ack(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    deliver(smtp, new_email())
    deliver(smtp, new_email())  # the sending server retried after a lost 250
    work(runtime)
    referral = only_referral(runtime)
    assert len(runtime.store.messages_for(referral.id or 0)) == 1
    assert len(relay.received) == 1


def test_without_a_message_id_identical_bytes_are_one_referral(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    raw = new_email(message_id=None).as_bytes()
    deliver(smtp, raw)
    deliver(smtp, raw)
    work(runtime)
    referral = only_referral(runtime)
    (message,) = runtime.store.messages_for(referral.id or 0)
    assert message["provider_id"].startswith("sha256:")


def test_mailing_list_mail_is_a_referral_but_not_acknowledged(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    deliver(smtp, new_email(List_Id="<carers.lists.example.org>", Precedence="list"))
    work(runtime)
    assert only_referral(runtime).channel == "email"
    assert relay.received == []


def test_mail_from_our_own_address_is_not_acknowledged(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    deliver(smtp, new_email(sender=f"Referrals <{INTAKE_ADDRESS}>"))
    work(runtime)
    only_referral(runtime)
    assert relay.received == []


def test_relay_refusal_is_recorded_and_not_retried(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    relay.refuse_next("550 5.1.1 <amira.lane@example.com>: Recipient address rejected")
    deliver(smtp, new_email())
    work(runtime)
    referral = only_referral(runtime)
    (outbound,) = runtime.store.outbound_for(referral.id or 0)
    assert outbound["status"] == "rejected"
    assert "550" in outbound["detail"]
    assert relay.received == []
    scheduled = ScheduledJobRegistry(queue_name(smtp, "default"), connection=runtime.redis)
    assert scheduled.get_job_ids() == []


def test_relay_down_retries_the_job_and_acknowledges_once_it_is_back(
    runtime: Runtime, relay: RecordingRelay
) -> None:
    down = email_settings(runtime, f"smtp://127.0.0.1:{free_port()}")
    with intake_smtp(runtime, down) as settings:
        deliver(settings, new_email())
        work(runtime)
    referral = only_referral(runtime)
    assert runtime.store.outbound_for(referral.id or 0) == []  # the claim was released

    queue = Queue(queue_name(down, "default"), connection=runtime.redis)
    registry = ScheduledJobRegistry(queue=queue)
    (job_id,) = registry.get_job_ids()
    runtime.settings = down.with_(smtp_relay_url=relay.url)
    registry.remove(job_id)
    queue.enqueue_job(Job.fetch(job_id, connection=runtime.redis))
    work(runtime)

    assert only_referral(runtime).reference == referral.reference
    (outbound,) = runtime.store.outbound_for(referral.id or 0)
    assert outbound["status"] == "sent"
    assert ack_of(relay).rcpt_tos == ["amira.lane@example.com"]


def test_fixture_with_long_lines_goes_through(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    deliver(smtp, fixture_bytes("27_huge_line.eml"), mail_from="paste@example.com")
    work(runtime)
    assert runtime.store.count_referrals() == 1
    with runtime.store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(messages)).scalar_one() == 1
