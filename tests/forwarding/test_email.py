"""The email forwarder, received by a real aiosmtpd server standing in for the relay."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import jsonschema
import pytest
from aiosmtpd.controller import Controller

from intake import forwarding
from intake.forwarding import email as email_forwarder
from intake.forwarding import form, payload
from intake.forwarding.base import ForwardEvent
from intake.runtime import Runtime
from tests.forwarding.conftest import (
    FIRST_TEXT,
    SECOND_TEXT,
    add_message,
    add_referral,
    run_due,
    work,
)
from tests.forwarding.test_form import pdf_text
from tests.support.servers import free_port

CASE_MAILBOX = "cases@advocacy.example.org"


@dataclass
class Recorder:
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # answers to the next DATA commands

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.replies:
            return self.replies.pop(0)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def relay() -> Iterator[tuple[Recorder, str]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, f"smtp://127.0.0.1:{port}"
    controller.stop()


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], relay: tuple[Recorder, str]) -> Runtime:
    return make_runtime(
        case_system=("store", "email"),
        case_email_to=(CASE_MAILBOX,),
        smtp_relay_url=relay[1],
        email_from="intake@advocacy.example.org",
    )


def parts(message: EmailMessage) -> dict[str, bytes]:
    """Attachment filename -> bytes."""
    return {
        str(part.get_filename()): part.get_payload(decode=True)
        for part in message.iter_attachments()
    }


def test_the_referral_form_reaches_the_case_mailbox(
    rt: Runtime, relay: tuple[Recorder, str], caplog: pytest.LogCaptureFixture
) -> None:
    recorder, _ = relay
    caplog.set_level(logging.DEBUG)
    referral = add_referral(rt, safeguarding=("financial", "neglect"))
    forwarding.schedule(rt, referral)
    work(rt)

    [message] = recorder.messages
    assert recorder.recipients == [[CASE_MAILBOX]]
    assert message["Subject"] == f"New referral {referral.reference} (urgent): IMCA referral"
    assert message["Message-ID"] == f"<{referral.reference}.created@advocacy.example.org>"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "IMCA REFERRAL " + referral.reference in body
    assert "Urgency:   URGENT" in body
    assert "!! Safeguarding concerns: financial, neglect." in body
    assert "Margaret Hughes" in body
    assert "Date of birth:" in body and "Thu 3 Feb 1938" in body
    assert FIRST_TEXT in body
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<h1>IMCA referral" in html and "Margaret Hughes" in html
    files = parts(message)
    stem = f"referral-{referral.reference}"
    assert set(files) == {f"{stem}.pdf", f"{stem}.json", f"{stem}.csv"}
    event = json.loads(files[f"{stem}.json"])
    jsonschema.validate(event, payload.schema())
    assert event["referral"]["reference"] == referral.reference
    [row] = list(csv.DictReader(io.StringIO(files[f"{stem}.csv"].decode("utf-8-sig"))))
    assert list(row) == list(form.CSV_COLUMNS)
    assert row["reference"] == referral.reference
    assert row["safeguarding"] == "financial; neglect"
    assert row["name"] == "Margaret Hughes"
    assert row["sender"] == "'+447700900118"  # a leading + would be a formula in a spreadsheet
    text = pdf_text(files[f"{stem}.pdf"])
    assert referral.reference in text and "IMCA referral" in text
    assert [a["outcome"] for a in forwarding.attempts(rt.store, referral.id)] == ["delivered"]
    assert rt.store.get_referral(referral.reference).forward_status == "delivered"
    # The form carries the messages; intake's and RQ's logs must not (the stand-in relay's
    # own debug log is not ours).
    ours = [r for r in caplog.records if r.name.startswith(("intake", "rq"))]
    assert any("forward" in r.getMessage() for r in ours)
    logged = "\n".join(r.getMessage() for r in ours)
    assert "dementia" not in logged and "Margaret" not in logged


def test_an_update_threads_under_the_first_email(rt: Runtime, relay: tuple[Recorder, str]) -> None:
    recorder, _ = relay
    referral = add_referral(rt)
    forwarding.schedule(rt, referral)
    work(rt)
    add_message(rt, referral)
    forwarding.schedule(rt, referral, "updated")
    work(rt)

    first, update = recorder.messages
    assert update["Subject"] == f"Update to referral {referral.reference} (urgent): IMCA referral"
    assert update["In-Reply-To"] == first["Message-ID"]
    assert update["References"] == first["Message-ID"]
    assert update["Message-ID"] != first["Message-ID"]
    body = update.get_body(preferencelist=("plain",)).get_content()
    assert "UPDATE" in body and SECOND_TEXT in body and FIRST_TEXT in body
    assert all("-upd-" in name for name in parts(update))


def test_erasure_sends_a_notice_without_personal_data(
    rt: Runtime, relay: tuple[Recorder, str]
) -> None:
    recorder, _ = relay
    referral = add_referral(rt)
    stored = rt.store.get_referral(referral.reference)
    erased = ForwardEvent("erased", "erased", 5, datetime(2026, 3, 9, tzinfo=UTC), stored, [])
    email_forwarder.send(rt.settings, erased)
    [notice] = recorder.messages
    assert notice["Subject"] == f"Erase referral {referral.reference}"
    assert notice["In-Reply-To"] == f"<{referral.reference}.created@advocacy.example.org>"
    text = notice.get_body(preferencelist=("plain",)).get_content()
    assert "delete every email" in text
    assert "Margaret" not in text and not list(notice.iter_attachments())


def test_a_deferral_is_retried_and_a_refusal_is_not(
    rt: Runtime, relay: tuple[Recorder, str]
) -> None:
    recorder, _ = relay
    recorder.replies = ["451 4.3.0 Try again later"]
    deferred = add_referral(rt, provider_id="SM" + "3" * 32)
    forwarding.schedule(rt, deferred)
    work(rt)
    run_due(rt)
    work(rt)
    assert [
        (a["outcome"], a["status_code"]) for a in forwarding.attempts(rt.store, deferred.id)
    ] == [
        ("retry", 451),
        ("delivered", 250),
    ]

    recorder.replies = ["554 5.7.1 Message refused"]
    refused = add_referral(rt, provider_id="SM" + "4" * 32)
    forwarding.schedule(rt, refused)
    work(rt)
    assert run_due(rt) == []
    assert [
        (a["outcome"], a["status_code"]) for a in forwarding.attempts(rt.store, refused.id)
    ] == [("rejected", 554)]
    assert rt.store.get_referral(refused.reference).forward_status == "forward_failed"
