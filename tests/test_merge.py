"""One person across channels: a text then an email is one referral; a maybe is only linked."""

from __future__ import annotations

from email.message import EmailMessage

import httpx
import pytest

from intake import merge, triage
from intake.config import Settings
from intake.runtime import Runtime
from tests.channels.email.smtp_support import (
    INTAKE_ADDRESS,
    RecordingRelay,
    deliver,
)
from tests.channels.sms.support import Phone, api_referral, api_referrals, links
from tests.support.twilio_standin import TwilioStandIn
from worker import build_worker

JO_MOBILE = "+447700900456"


def send_email(
    runtime: Runtime, settings: Settings, sender: str, subject: str, body: str, msgid: str
) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = INTAKE_ADDRESS
    message["Subject"] = subject
    message["Date"] = "Thu, 05 Jun 2025 09:30:00 +0100"
    message["Message-ID"] = msgid
    message.set_content(body)
    assert deliver(settings, message, mail_from=sender.split("<")[-1].rstrip(">")) == {}
    build_worker(runtime, simple=True).work(burst=True)


def test_a_text_then_an_email_with_the_same_phone_is_one_referral(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    smtp: Settings,
    relay: RecordingRelay,
) -> None:
    jo = Phone(runtime, live_url, http, twilio, JO_MOBILE)
    jo.text("Hi I'm worried about my mum, she's in hospital and they want to discharge her")
    [listed] = api_referrals(http, live_url)
    reference = str(listed["reference"])
    send_email(
        runtime,
        smtp,
        "Jo Carter <jo.carter@example.org>",
        "My mum",
        "Hello, I texted you earlier about my mum Ellen Carter who is in hospital. My mobile is "
        "07700 900456. She is happy for you to contact her.\n\nJo Carter\n",
        "<jo-1@example.org>",
    )
    [listed] = api_referrals(http, live_url)
    detail = api_referral(http, live_url, reference)
    assert [m["channel"] for m in detail["messages"]] == ["sms", "email"]
    assert detail["messages"][1]["meta"]["joined_by"] == "merge:contact"
    assert detail["fields"]["subject_name"] == "Ellen Carter"  # filled in from the email
    assert detail["fields"]["provenance"]["subject_name"]["source"] == "merge:contact"
    [ack] = relay.received
    body = ack.message.get_body(preferencelist=("plain",))
    assert body is not None and reference in body.get_content()  # the same reference by email
    assert links(runtime) == []


def test_an_email_quoting_the_reference_joins_the_texts(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    smtp: Settings,
) -> None:
    jo = Phone(runtime, live_url, http, twilio, JO_MOBILE)
    jo.text("Hi, I need some help please")
    [listed] = api_referrals(http, live_url)
    reference = str(listed["reference"])
    send_email(
        runtime,
        smtp,
        "A Friend <helper@example.net>",
        f"Re: {reference}",
        f"Writing on behalf of my friend about {reference}: she needs help with a care assessment.",
        "<friend-1@example.net>",
    )
    assert len(api_referrals(http, live_url)) == 1
    detail = api_referral(http, live_url, reference)
    assert [m["channel"] for m in detail["messages"]] == ["sms", "email"]


def test_an_email_then_a_text_from_the_phone_in_its_signature_is_one_referral(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    smtp: Settings,
) -> None:
    send_email(
        runtime,
        smtp,
        "Jo Carter <jo.carter@example.org>",
        "My mum",
        "Hello, my mum Ellen Carter is in hospital and they want to move her to a care home. "
        "My mobile is 07700 900456.\n\nJo Carter\n",
        "<jo-2@example.org>",
    )
    jo = Phone(runtime, live_url, http, twilio, JO_MOBILE)
    jo.text("It's Jo again, mum has agreed to an advocate")
    [listed] = api_referrals(http, live_url)
    assert listed["channel"] == "email"
    detail = api_referral(http, live_url, str(listed["reference"]))
    assert [m["channel"] for m in detail["messages"]] == ["email", "sms"]
    [ack] = jo.received()
    assert str(listed["reference"]) in ack  # the text is acknowledged with the same reference


def test_same_name_and_postcode_from_someone_else_is_linked_not_merged(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    smtp: Settings,
) -> None:
    margaret = Phone(runtime, live_url, http, twilio, "+447700900555")
    margaret.text(
        "My name is Margaret Hill, I live at LS6 2AB and I need help with a care assessment"
    )
    send_email(
        runtime,
        smtp,
        "Priya Shah <priya.shah@leeds-asc.example.org>",
        "Referral",
        "Dear team,\n\nI would like to refer Margaret Hill (postcode LS6 2AB) for Care Act "
        "advocacy. She has a care and support assessment next month.\n\nKind regards,\n"
        "Priya Shah\nSocial Worker, Leeds Adult Social Care\nTel: 0113 496 0000\n",
        "<priya-1@leeds-asc.example.org>",
    )
    listed = api_referrals(http, live_url)
    assert len(listed) == 2  # not merged
    [link] = links(runtime)
    assert link["reason"] == "same_name_and_postcode"
    assert link["status"] == "suggested"
    by_id = {r.id: r for r in runtime.store.list_referrals()}
    assert by_id[link["referral_id"]].channel == "email"
    assert by_id[link["other_id"]].channel == "sms"

    # a person confirms: the email's messages move to the earlier referral, the later one closes
    newer = runtime.store.get_referral_by_id(link["referral_id"])
    assert newer is not None
    said = triage.decide_link(runtime, newer, "duty@advocacy.example.org", link["id"], confirm=True)
    kept = runtime.store.get_referral_by_id(link["other_id"])
    assert (
        kept is not None
        and kept.id is not None
        and said.startswith(f"Merged into {kept.reference}")
    )
    assert [m["channel"] for m in runtime.store.messages_for(kept.id)] == ["sms", "email"]
    closed = runtime.store.get_referral_by_id(link["referral_id"])
    assert closed is not None and closed.status == "closed"
    assert closed.fields["merged_into"] == kept.reference
    assert [r["status"] for r in links(runtime)] == ["confirmed"]


def test_one_social_worker_about_two_clients_is_not_merged(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    smtp: Settings,
) -> None:
    send_email(
        runtime,
        smtp,
        "Priya Shah <priya.shah@leeds-asc.example.org>",
        "Referral",
        "I would like to refer Margaret Hill for Care Act advocacy.\n\nPriya Shah\n"
        "Social Worker\nMobile: 07700 900777\n",
        "<priya-2@leeds-asc.example.org>",
    )
    priya = Phone(runtime, live_url, http, twilio, "+447700900777")
    priya.text("Hi it's Priya Shah, social worker. I'd like to refer Thomas Wright for an IMCA")
    assert len(api_referrals(http, live_url)) == 2
    assert links(runtime) == []  # same contact, but they name different people: not even linked


# -- the pure parts ---------------------------------------------------------------------------


def test_fill_fields_keeps_what_is_known_and_records_where_new_values_came_from() -> None:
    existing = {"name": "Ellen Carter", "confidence": {"name": 0.7}}
    new = {"name": "E Carter", "postcode": "LS6 2AB", "confidence": {"postcode": 0.9}}
    out = merge.fill_fields(existing, new, {"source": "merge:contact"})
    assert out["name"] == "Ellen Carter"
    assert out["postcode"] == "LS6 2AB"
    assert out["confidence"] == {"name": 0.7, "postcode": 0.9}
    assert out["provenance"] == {"postcode": {"source": "merge:contact"}}


def test_a_nested_group_is_filled_key_by_key() -> None:
    existing = {"referrer": {"email": "jo@example.org"}}
    new = {"referrer": {"email": "other@example.org", "phone": "+447700900456"}}
    out = merge.fill_fields(existing, new, {"source": "headers"})
    assert out["referrer"] == {"email": "jo@example.org", "phone": "+447700900456"}
    assert out["provenance"]["referrer"] == {"source": "headers"}
    unchanged = merge.fill_fields(out, {"referrer": {"email": "x@example.org"}}, {"source": "y"})
    assert unchanged["provenance"]["referrer"] == {"source": "headers"}


def test_a_later_unsafe_wins_over_an_earlier_safe() -> None:
    out = merge.fill_fields({"safe_to_contact": True}, {"safe_to_contact": False}, {"source": "x"})
    assert out["safe_to_contact"] is False


def test_answers_replace_guesses() -> None:
    out = merge.apply_answer(
        {"referral_for": "self", "confidence": {"referral_for": 0.5}},
        {"referral_for": "other", "relationship": "child"},
        {"source": "sms_answer", "question": "referral_for"},
    )
    assert out["referral_for"] == "other"
    assert out["confidence"]["referral_for"] == 0.9
    assert out["provenance"]["relationship"]["question"] == "referral_for"


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ({"nhs_number": "943 476 5919"}, {"nhs_number": "9434765919"}, "same_nhs_number"),
        (
            {"name": "Margaret Hill", "postcode": "LS6 2AB"},
            {"subject_name": "margaret hill", "postcode": "ls62ab"},
            "same_name_and_postcode",
        ),
        (
            {"name": "Margaret Hill", "dob": "1941-03-02"},
            {"name": "Margaret Hill", "dob": "1941-03-02"},
            "same_name_and_dob",
        ),
        ({"name": "Margaret Hill", "postcode": "LS6 2AB"}, {"name": "Margaret Hill"}, None),
        ({"name": "Margaret Hill"}, {"name": "Thomas Wright"}, None),
    ],
)
def test_duplicate_reason(a: dict[str, str], b: dict[str, str], reason: str | None) -> None:
    assert merge.duplicate_reason(a, b) == reason


def test_contacts_and_different_people() -> None:
    fields = {"referrer": {"phone": "+441134960000", "email": "Priya@Example.org"}}
    assert merge.contacts("+447700900777", fields) == {
        "+447700900777",
        "+441134960000",
        "priya@example.org",
    }
    assert merge.different_people({"subject_name": "Margaret Hill"}, {"name": "Thomas Wright"})
    assert not merge.different_people({"subject_name": "Margaret Hill"}, {})
