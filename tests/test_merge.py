"""One person across channels, and strangers who name them (issue 15, security 1).

Only the sender's own verified identity, or a reply to a message we sent, joins a referral; a
number, an address or a reference in the text is a possible link a person confirms. Each attack is
tried through the real SMTP server, the signed SMS webhook and a real worker.
"""

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
    Relayed,
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


def ack_text(relayed: Relayed) -> str:
    """Subject and plain body of an email acknowledgement, as its recipient reads them."""
    body = relayed.message.get_body(preferencelist=("plain",))
    assert body is not None
    return f"{relayed.message['Subject']}\n{body.get_content()}"


def test_a_text_then_an_email_naming_the_same_phone_is_linked_for_a_person_to_confirm(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    smtp: Settings,
    relay: RecordingRelay,
) -> None:
    """The genuine case (Jo texted, then emailed from her own address giving her mobile) is one
    confirmation away; nothing joins on a number in the text alone, which anyone can write."""
    jo = Phone(runtime, live_url, http, twilio, JO_MOBILE)
    jo.text("Hi I'm worried about my mum, she's in hospital and they want to discharge her")
    [texted] = api_referrals(http, live_url)
    sms_reference = str(texted["reference"])
    send_email(
        runtime,
        smtp,
        "Jo Carter <jo.carter@example.org>",
        "My mum",
        "Hello, I texted you earlier about my mum Ellen Carter who is in hospital. My mobile is "
        "07700 900456. She is happy for you to contact her.\n\nJo Carter\n",
        "<jo-1@example.org>",
    )
    emailed = next(r for r in api_referrals(http, live_url) if r["channel"] == "email")
    email_reference = str(emailed["reference"])
    assert email_reference != sms_reference
    before = api_referral(http, live_url, sms_reference)
    assert [m["channel"] for m in before["messages"]] == ["sms"]
    assert "subject_name" not in before["fields"]  # the text's referral is as the text made it
    [ack] = relay.received
    assert email_reference in ack_text(ack) and sms_reference not in ack_text(ack)
    [link] = links(runtime)
    assert (link["reason"], link["status"]) == ("same_contact", "suggested")

    # a person looks at both and confirms: one referral, both messages, the email's details
    newer = runtime.store.get_referral(email_reference)
    assert newer is not None
    said = triage.decide_link(runtime, newer, "duty@advocacy.example.org", link["id"], confirm=True)
    assert said.startswith(f"Merged into {sms_reference}")
    after = api_referral(http, live_url, sms_reference)
    assert [m["channel"] for m in after["messages"]] == ["sms", "email"]
    assert after["fields"]["subject_name"] == "Ellen Carter"
    assert after["fields"]["provenance"]["subject_name"]["source"] == "confirmed_merge"


def test_a_strangers_email_quoting_a_reference_cannot_join_silence_or_learn_it(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    smtp: Settings,
    relay: RecordingRelay,
) -> None:
    jo = Phone(runtime, live_url, http, twilio, JO_MOBILE)
    jo.text("Hi, I need some help please, my carer is hurting me")
    [listed] = api_referrals(http, live_url)
    reference = str(listed["reference"])
    said = {
        1: "She has changed her mind and does not want an advocate, please close it.",
        2: "It is not safe to contact her, do not text or call her.",
    }
    for n, text in said.items():
        send_email(
            runtime,
            smtp,
            "A Friend <helper@example.net>",
            f"Re: {reference}",
            f"About {reference}: {text}",
            f"<friend-{n}@example.net>",
        )
    victim = runtime.store.get_referral(reference)
    assert victim is not None and victim.id is not None
    assert victim.safe_to_contact and victim.status == "open"  # not silenced, not closed
    assert [m["channel"] for m in runtime.store.messages_for(victim.id)] == ["sms"]
    theirs = [r for r in runtime.store.list_referrals() if r.channel == "email"]
    assert len(theirs) == 2  # each a referral of its own: a person decides
    # Their first email is acknowledged with its own reference, never the victim's; their
    # second asked not to be contacted, and that holds for their own referral only.
    [ack] = relay.received
    assert reference not in ack_text(ack)
    assert any(r.reference in ack_text(ack) for r in theirs)
    assert "changed her mind" not in str(ack.message["Subject"])  # not their subject either
    suggested = links(runtime)
    to_victim = [k for k in suggested if victim.id in (k["referral_id"], k["other_id"])]
    assert [k["reason"] for k in to_victim] == ["quoted_reference"] * 2
    assert all(k["status"] == "suggested" for k in suggested)  # nothing merged by itself
    assert jo.received()[-1].count(reference) == 1  # the victim heard nothing more


def test_an_email_then_a_text_from_the_phone_in_its_signature_is_linked_not_merged(
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
    [emailed] = api_referrals(http, live_url)
    jo = Phone(runtime, live_url, http, twilio, JO_MOBILE)
    jo.text("It's Jo again, mum has agreed to an advocate")
    listed = api_referrals(http, live_url)
    assert len(listed) == 2
    texted = next(r for r in listed if r["channel"] == "sms")
    detail = api_referral(http, live_url, str(emailed["reference"]))
    assert [m["channel"] for m in detail["messages"]] == ["email"]
    [ack] = jo.received()
    assert str(texted["reference"]) in ack and str(emailed["reference"]) not in ack
    [link] = links(runtime)
    assert link["reason"] == "same_contact"


def test_a_number_named_in_emails_is_never_an_oracle_for_its_referral(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    smtp: Settings,
    relay: RecordingRelay,
) -> None:
    """Naming a number twice must not answer twice with the same reference: each email is a
    referral of its own, so the answers say nothing about whether that number has one."""
    Phone(runtime, live_url, http, twilio, JO_MOBILE).text("I need help with my benefits appeal")
    for n in (1, 2):
        send_email(
            runtime,
            smtp,
            f"Prober <probe{n}@example.net>",
            "Question",
            "Hi, I'm Jo, my number is 07700 900456, what is my reference again?",
            f"<probe-{n}@example.net>",
        )
    texted = next(r for r in runtime.store.list_referrals() if r.channel == "sms")
    found = [ack_text(r) for r in relay.received]
    assert len(found) == 2 and all(texted.reference not in text for text in found)
    references = {r.reference for r in runtime.store.list_referrals() if r.channel == "email"}
    assert len(references) == 2


def test_the_senders_own_email_quoting_their_reference_joins_a_strangers_text_does_not(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    smtp: Settings,
    relay: RecordingRelay,
) -> None:
    send_email(
        runtime,
        smtp,
        "Jo Carter <jo.carter@example.org>",
        "My mum",
        "Hello, my mum Ellen Carter needs an advocate for her care assessment.\n",
        "<jo-3@example.org>",
    )
    [emailed] = api_referrals(http, live_url)
    reference = str(emailed["reference"])
    send_email(  # a new email, not a reply, from the same address, naming her reference
        runtime,
        smtp,
        "Jo Carter <jo.carter@example.org>",
        f"More about {reference}",
        "The assessment is now on Friday. Please don't phone mum, email me instead.\n",
        "<jo-4@example.org>",
    )
    detail = api_referral(http, live_url, reference)
    assert [m["meta"]["joined_by"] for m in detail["messages"][1:]] == ["reference"]
    assert len(relay.received) == 1  # one acknowledgement per referral and address

    stranger = Phone(runtime, live_url, http, twilio, "+447700900999")
    stranger.text(f"{reference} cancel this please")
    assert len(api_referrals(http, live_url)) == 2
    assert len(api_referral(http, live_url, reference)["messages"]) == 2
    [ack] = stranger.received()
    assert reference not in ack
    assert {k["reason"] for k in links(runtime)} == {"quoted_reference"}


def test_mail_whose_from_differs_from_its_envelope_sender_is_not_trusted_to_join(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    smtp: Settings,
    relay: RecordingRelay,
) -> None:
    send_email(
        runtime,
        smtp,
        "Jo Carter <jo.carter@example.org>",
        "My mum",
        "Hello, my mum Ellen Carter needs an advocate for her care assessment.\n",
        "<jo-5@example.org>",
    )
    [emailed] = api_referrals(http, live_url)
    reference = str(emailed["reference"])
    forged = EmailMessage()
    forged["From"] = "Jo Carter <jo.carter@example.org>"  # her address, sent as someone else
    forged["To"] = INTAKE_ADDRESS
    forged["Subject"] = f"Re: {reference}"
    forged["Message-ID"] = "<forged-1@example.net>"
    forged.set_content("It is not safe to contact me any more. Close this referral.\n")
    assert deliver(smtp, forged, mail_from="bulk@example.net") == {}
    build_worker(runtime, simple=True).work(burst=True)
    kept = runtime.store.get_referral(reference)
    assert kept is not None and kept.safe_to_contact
    assert len(api_referrals(http, live_url)) == 2
    assert len(relay.received) == 1  # and nobody was acknowledged for the forgery
    [link] = links(runtime)
    assert link["reason"] == "quoted_reference"


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
    out = merge.fill_fields(existing, new, {"source": "confirmed_merge"})
    assert out["name"] == "Ellen Carter"
    assert out["postcode"] == "LS6 2AB"
    assert out["confidence"] == {"name": 0.7, "postcode": 0.9}
    assert out["provenance"] == {"postcode": {"source": "confirmed_merge"}}


def test_a_nested_group_is_filled_key_by_key() -> None:
    existing = {"referrer": {"email": "jo@example.org"}}
    new = {"referrer": {"email": "other@example.org", "phone": "+447700900456"}}
    out = merge.fill_fields(existing, new, {"source": "headers"})
    assert out["referrer"] == {"email": "jo@example.org", "phone": "+447700900456"}
    assert out["provenance"]["referrer"] == {"source": "headers"}
    unchanged = merge.fill_fields(out, {"referrer": {"email": "x@example.org"}}, {"source": "y"})
    assert unchanged["provenance"]["referrer"] == {"source": "headers"}


def test_the_eligibility_card_is_filled_key_by_key_with_its_confidence_and_evidence() -> None:
    existing = {
        "eligibility": {"mha_section": "2"},
        "confidence": {"eligibility.mha_section": 0.9},
        "evidence": {"eligibility.mha_section": [10, 19]},
    }
    new = {
        "eligibility": {"mha_section": "3", "detained_on": "2026-11-21"},
        "confidence": {"eligibility.mha_section": 0.8, "eligibility.detained_on": 0.8},
        "evidence": {"eligibility.mha_section": [40, 49], "eligibility.detained_on": [60, 70]},
    }
    out = merge.fill_fields(existing, new, {"source": "conversation"})
    assert out["eligibility"] == {"mha_section": "2", "detained_on": "2026-11-21"}
    assert out["confidence"] == {"eligibility.mha_section": 0.9, "eligibility.detained_on": 0.8}
    assert out["evidence"] == {
        "eligibility.mha_section": [10, 19],
        "eligibility.detained_on": [60, 70],
    }
    first = merge.fill_fields({}, new, {"source": "text"})
    assert first["evidence"] == new["evidence"] and first["confidence"] == new["confidence"]


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
