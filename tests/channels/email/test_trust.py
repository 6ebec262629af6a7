"""Which mail intake trusts to come from its From address (channels/email/trust.py).

The pure rules first, as a table of the forgeries and the honest cases; then the same rules
through the real SMTP server and worker: who is acknowledged, and who may join a referral.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from channels.email import trust
from intake.config import Settings
from intake.runtime import Runtime
from tests.channels.email.smtp_support import (
    INTAKE_ADDRESS,
    RecordingRelay,
    deliver,
    email_settings,
    intake_smtp,
)
from worker import build_worker

RELAY = "10.0.0.5"
AUTHSERV = "mx.advocacy.example.org"


def headers(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\nbody\r\n").encode()


def judge(raw: bytes, envelope: str, peer: str = "203.0.113.9") -> trust.Trust:
    return trust.assess(
        trust.headers_of(raw),
        envelope_from=envelope,
        peer=peer,
        relay_hosts=(RELAY,),
        authserv_id=AUTHSERV,
    )


@pytest.mark.parametrize(
    ("lines", "envelope", "peer", "verified", "reason"),
    [
        (["From: Jo <Jo@Example.org>"], "jo@example.org", "203.0.113.9", True, "envelope"),
        (["From: Jo <jo@example.org>"], "<jo@example.org>", "203.0.113.9", True, "envelope"),
        (["From: jo@example.org"], "bulk@example.net", "203.0.113.9", False, "differs"),
        (["From: jo@example.org"], "", "203.0.113.9", False, "null"),
        (["Reply-To: jo@example.org"], "jo@example.org", "203.0.113.9", False, "no From"),
        (
            ["From: jo@example.org", "From: boss@example.org"],
            "jo@example.org",
            "203.0.113.9",
            False,
            "more than one",
        ),
        (["From: jo@example.org, x@example.net"], "jo@example.org", RELAY, False, "more than one"),
        # an Authentication-Results header from the internet means nothing ...
        (
            ["Authentication-Results: mx.advocacy.example.org; dmarc=pass header.from=example.org",
             "From: jo@example.org"],
            "bounces@example.net",
            "203.0.113.9",
            False,
            "differs",
        ),
        # ... from our relay it decides: DMARC pass trusts a From the envelope does not match
        (
            ["Authentication-Results: mx.advocacy.example.org; dmarc=pass header.from=example.org",
             "From: jo@example.org"],
            "bounces@example.net",
            RELAY,
            True,
            "dmarc=pass",
        ),
        (
            ["Authentication-Results: mx.advocacy.example.org; dmarc=fail header.from=example.org",
             "From: jo@example.org"],
            "jo@example.org",
            RELAY,
            False,
            "dmarc=fail",
        ),
        # the topmost of our relay's headers counts; a forged one below it, or another
        # server's, does not
        (
            ["Authentication-Results: mx.advocacy.example.org; spf=fail smtp.mailfrom=example.org",
             "Authentication-Results: mx.advocacy.example.org; dmarc=pass header.from=example.org",
             "From: jo@example.org"],
            "jo@example.org",
            RELAY,
            False,
            "spf=fail",
        ),
        (
            ["Authentication-Results: mx.elsewhere.example; dmarc=pass header.from=example.org",
             "From: jo@example.org"],
            "bulk@example.net",
            RELAY,
            False,
            "differs",
        ),
        (
            ["Authentication-Results: mx.advocacy.example.org; dkim=pass header.d=example.org",
             "From: jo@example.org"],
            "bounce@mailer.example.net",
            RELAY,
            True,
            "dkim=pass",
        ),
        (
            ["Authentication-Results: mx.advocacy.example.org; dkim=pass header.d=mailer.example",
             "From: jo@example.org"],
            "bounce@mailer.example",
            RELAY,
            False,
            "differs",
        ),
        (
            [f"Authentication-Results: {AUTHSERV}; spf=pass smtp.mailfrom=jo@example.org",
             "From: jo@example.org"],
            "jo@example.org",
            RELAY,
            True,
            "spf=pass",
        ),
        (
            ["Authentication-Results: mx.advocacy.example.org; none", "From: jo@example.org"],
            "jo@example.org",
            RELAY,
            True,
            "envelope",
        ),
        (
            ["Authentication-Results: garbage ;;; ==", "From: jo@example.org"],
            "jo@example.org",
            RELAY,
            True,
            "envelope",
        ),
    ],
)
def test_trust_rules(
    lines: list[str], envelope: str, peer: str, verified: bool, reason: str
) -> None:
    judged = judge(headers(*lines), envelope, peer)
    assert judged.verified is verified
    assert reason in judged.reason


def test_the_client_address_is_the_one_our_relay_recorded() -> None:
    raw = headers(
        "Received: from mail.example.org (mail.example.org [198.51.100.7]) by mx.advocacy",
        "Received: from laptop ([192.168.1.20]) by mail.example.org",
        "From: jo@example.org",
    )
    parsed = trust.headers_of(raw)
    assert trust.client_ip(parsed, RELAY, (RELAY,)) == "198.51.100.7"
    assert trust.client_ip(parsed, "203.0.113.9", (RELAY,)) == "203.0.113.9"  # not a relay
    assert trust.client_ip(trust.headers_of(headers("From: a@b.org")), RELAY, (RELAY,)) == ""


def test_a_huge_forged_results_header_is_ignored_quickly() -> None:
    value = "mx.advocacy.example.org; " + "dkim=pass header.d=example.org; " * 5000
    judged = judge(headers(f"Authentication-Results: {value}", "From: x@example.org"), "", RELAY)
    assert not judged.verified


def _mail(sender: str, message_id: str, body: str, **extra: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = INTAKE_ADDRESS
    message["Subject"] = "Referral"
    message["Message-ID"] = message_id
    for name, value in extra.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def test_through_our_relay_dmarc_decides_who_is_acknowledged(
    runtime: Runtime, relay: RecordingRelay
) -> None:
    """Behind an MTA that checks DMARC, mail sent through a forwarder (envelope rewritten) is
    acknowledged at its From; a forgery the MTA failed is stored but never acknowledged."""
    settings = email_settings(
        runtime, relay.url, email_relay_hosts=("127.0.0.1",), email_authserv_id=AUTHSERV
    )
    with intake_smtp(runtime, settings) as smtp:
        honest = _mail(
            "Jo <jo@example.org>",
            "<honest-1@example.org>",
            "Please help my dad with his care assessment.\n",
            Authentication_Results=f"{AUTHSERV}; dmarc=pass header.from=example.org",
        )
        forged = _mail(
            "Jo <jo@example.org>",
            "<forged-1@example.net>",
            "Please help my dad with his care assessment.\n",
            Authentication_Results=f"{AUTHSERV}; dmarc=fail header.from=example.org",
        )
        assert deliver(smtp, honest, mail_from="srs0=ab=example.org@forwarder.example") == {}
        assert deliver(smtp, forged, mail_from="jo@example.org") == {}
        build_worker(runtime, simple=True).work(burst=True)
    assert len(runtime.store.list_referrals()) == 2  # both kept: nothing is lost
    assert [r.rcpt_tos for r in relay.received] == [["jo@example.org"]]
    trusted = {
        m["provider_id"]: m["meta"][trust.VERIFIED]
        for r in runtime.store.list_referrals()
        for m in runtime.store.messages_for(r.id or 0)
    }
    assert trusted == {"honest-1@example.org": True, "forged-1@example.net": False}


def test_a_reply_to_our_acknowledgement_joins_even_from_a_forwarding_address(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    """Our acknowledgement's Message-ID went only to its recipient: a reply naming it is theirs,
    whatever envelope their forwarder gives it. A reply-all from someone else, naming only the
    person's own Message-ID, is linked instead."""
    first = _mail("Jo <jo@example.org>", "<jo-1@example.org>", "Help for my dad please.\n")
    assert deliver(smtp, first) == {}
    build_worker(runtime, simple=True).work(burst=True)
    [referral] = runtime.store.list_referrals()
    [ack] = relay.received
    reply = _mail(
        "Jo <jo@example.org>",
        "<jo-2@example.org>",
        "He is in hospital now.\n",
        In_Reply_To=str(ack.message["Message-ID"]),
    )
    assert deliver(smtp, reply, mail_from="srs0=xy=example.org@forwarder.example") == {}
    cc = _mail(
        "Someone <someone@example.net>",
        "<cc-1@example.net>",
        "Do not contact him, it is not safe.\n",
        In_Reply_To="<jo-1@example.org>",
    )
    assert deliver(smtp, cc) == {}
    build_worker(runtime, simple=True).work(burst=True)
    kept = runtime.store.get_referral(referral.reference)
    assert kept is not None and kept.id is not None and kept.safe_to_contact
    stored = runtime.store.messages_for(kept.id)
    assert [(m["provider_id"], m["meta"].get("joined_by")) for m in stored] == [
        ("jo-1@example.org", None),
        ("jo-2@example.org", "headers"),
    ]
    [link] = runtime.store.links.touching(kept.id)
    assert link["reason"] == "reply_to_another_sender"
