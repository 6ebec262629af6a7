"""The email forwarder, received by a real aiosmtpd server standing in for the relay."""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from intake import forwarding
from intake.runtime import Runtime
from tests.forwarding.conftest import (
    FIRST_TEXT,
    SECOND_TEXT,
    add_message,
    add_referral,
    run_due,
    work,
)
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


def test_summary_reaches_the_case_mailbox(
    rt: Runtime, relay: tuple[Recorder, str], caplog: pytest.LogCaptureFixture
) -> None:
    recorder, _ = relay
    caplog.set_level(logging.DEBUG)
    referral = add_referral(rt, safeguarding=("financial", "neglect"))
    forwarding.schedule(rt, referral)
    work(rt)

    [message] = recorder.messages
    assert recorder.recipients == [[CASE_MAILBOX]]
    assert message["Subject"] == f"New referral {referral.reference} (urgent)"
    assert message["Message-ID"] == f"<{referral.reference}.created@advocacy.example.org>"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Urgency:          urgent" in body
    assert "Safeguarding:     financial, neglect" in body
    assert "name: Margaret Hughes" in body
    assert FIRST_TEXT in body
    assert [a["outcome"] for a in forwarding.attempts(rt.store, referral.id)] == ["delivered"]
    assert rt.store.get_referral(referral.reference).forward_status == "delivered"
    # The summary carries the messages; intake's and RQ's logs must not (the stand-in relay's
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
    assert update["Subject"] == f"Update to referral {referral.reference} (urgent)"
    assert update["In-Reply-To"] == first["Message-ID"]
    assert SECOND_TEXT in update.get_body(preferencelist=("plain",)).get_content()


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
