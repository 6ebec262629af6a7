"""Backscatter (issue 15, security 6): intake must not be a way to mail strangers.

The attack: send intake mail naming a victim (in Reply-To, or as a forged From), with the
attacker's subject line, so the organisation's own address writes to the victim; cycle through
victims so the per-recipient limit never bites. Through the real SMTP server and worker: only a
sender the mail can be trusted to come from is acknowledged, never a Reply-To, never with the
sender's subject, and never more than `ACK_SOURCE_LIMIT` per sending address or From domain.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from intake.config import Settings
from intake.runtime import Runtime
from tests.channels.email.smtp_support import (
    INTAKE_ADDRESS,
    RecordingRelay,
    email_settings,
    intake_smtp,
)
from worker import build_worker

SPAM_SUBJECT = "Cheap pills at http://spam.example/buy"
LIMIT = 5


@pytest.fixture
def limited(runtime: Runtime, relay: RecordingRelay) -> Iterator[Settings]:
    settings = email_settings(runtime, relay.url, ack_source_limit=LIMIT)
    with intake_smtp(runtime, settings) as running:
        yield running


def send_all(settings: Settings, messages: list[tuple[str, EmailMessage]]) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as client:
        for envelope, message in messages:
            client.send_message(message, from_addr=envelope)


def mail(n: int, *, sender: str, reply_to: str | None = None, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    if reply_to:
        message["Reply-To"] = reply_to
    message["To"] = INTAKE_ADDRESS
    message["Subject"] = SPAM_SUBJECT
    message["Message-ID"] = f"<spam-{n}@example.net>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Please help my brother, he needs an advocate for his care assessment.\n")
    return message


def test_cycling_reply_to_gets_no_acknowledgement_to_anyone_it_names(
    runtime: Runtime, limited: Settings, relay: RecordingRelay
) -> None:
    send_all(
        limited,
        [
            (
                "spammer@example.net",
                mail(n, sender="spammer@example.net", reply_to=f"victim{n}@example.org"),
            )
            for n in range(20)
        ],
    )
    build_worker(runtime, simple=True).work(burst=True)
    assert len(runtime.store.list_referrals(limit=50)) == 20  # stored all the same
    recipients = [r.rcpt_tos[0] for r in relay.received]
    assert not [r for r in recipients if r.startswith("victim")]
    assert set(recipients) == {"spammer@example.net"}  # their own address, once per referral...
    assert len(recipients) <= runtime.settings.ack_rate_limit  # ... within its own limit


def test_a_forged_from_is_not_acknowledged(
    runtime: Runtime, limited: Settings, relay: RecordingRelay
) -> None:
    send_all(
        limited,
        [
            ("spammer@example.net", mail(n, sender=f"victim{n}@example.org"))
            for n in range(10)
        ],
    )
    build_worker(runtime, simple=True).work(burst=True)
    stored = runtime.store.list_referrals(limit=50)
    assert len(stored) == 10
    assert relay.received == []
    assert all(runtime.store.outbound_for(r.id or 0) == [] for r in stored)


def test_cycling_forged_senders_from_one_address_stops_at_the_source_limit(
    runtime: Runtime, limited: Settings, relay: RecordingRelay
) -> None:
    """Setting From and the envelope to each victim in turn passes the From check (only an MTA
    checking SPF/DKIM/DMARC stops that, see trust.py); the per-source limit still caps what one
    sending machine can make intake send, whatever the recipients."""
    send_all(
        limited,
        [
            (f"victim{n}@example{n}.org", mail(n, sender=f"victim{n}@example{n}.org"))
            for n in range(20)
        ],
    )
    build_worker(runtime, simple=True).work(burst=True)
    assert len(relay.received) == LIMIT
    for relayed in relay.received:
        subject = str(relayed.message["Subject"])
        assert "pills" not in subject and "spam.example" not in subject
        assert subject.startswith("Auto: We've received your referral [REF-")
    limited_acks = [
        e for e in runtime.store.audit_for() if e["action"] == "referral.ack_rate_limited"
    ]
    assert len(limited_acks) == 20 - LIMIT


def test_one_from_domain_is_limited_whatever_machines_it_comes_through(
    runtime: Runtime, relay: RecordingRelay
) -> None:
    """Behind our relay every message comes from the relay's address: the machine that handed
    it to the relay (its Received header) and the From domain are the sources."""
    settings = email_settings(
        runtime, relay.url, ack_source_limit=LIMIT, email_relay_hosts=("127.0.0.1",)
    )
    with intake_smtp(runtime, settings) as running:
        send_all(
            running,
            [
                (
                    f"user{n}@victims.example",
                    mail(
                        n,
                        sender=f"user{n}@victims.example",
                        Received=f"from host{n} (host{n} [198.51.100.{n + 1}]) by mx.example",
                    ),
                )
                for n in range(12)
            ],
        )
        build_worker(runtime, simple=True).work(burst=True)
    assert len(relay.received) == LIMIT
