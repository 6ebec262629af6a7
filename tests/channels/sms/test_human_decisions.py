"""People's decisions and later messages, end to end: signed webhooks, Redis, a real worker.

- An advocate's reasoned urgency stands against a later message that screens higher: the
  referral is marked and flagged, on-call still hears, the decision stays in the audit trail.
- Once an advocate has replied, no machine question follows a later text.
- A short answer to our own closed question joins (and reopens) its referral, even when it was
  closed, inside or after the conversation window: no new referral, no fresh acknowledgement.
- An email reply threaded on our acknowledgement adds the facts it states to the referral.
"""

from __future__ import annotations

import httpx
import pytest

from intake import triage
from intake.config import Settings
from intake.models import Referral
from intake.runtime import Runtime
from tests.channels.email.smtp_support import RecordingRelay, deliver
from tests.channels.email.test_email_end_to_end import new_email
from tests.channels.sms.support import Phone, age_conversations, questions_in
from tests.support.twilio_standin import TwilioStandIn
from worker import build_worker

ADVOCATE = "advocate@example.org"
ONCALL_SMS = "+447700900999"
NUMBER = "+447700900411"
FIRST_EMERGENCY = "I have taken 30 paracetamol and want to die tonight"
LATER_EMERGENCY = "I mean it. I have swallowed 30 paracetamol tablets and nobody can stop me"
DOWNGRADE_REASON = "Rang her back: she was quoting a play she is in, she is safe and well"


@pytest.fixture
def phone(runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn) -> Phone:
    return Phone(runtime, live_url, http, twilio, NUMBER)


def only_referral(runtime: Runtime) -> Referral:
    referrals = runtime.store.list_referrals(limit=10)
    assert len(referrals) == 1, [r.reference for r in referrals]
    return referrals[0]


def actions(runtime: Runtime, referral: Referral) -> list[str]:
    return [a["action"] for a in runtime.store.audit_for(referral.id)]


def outbound_kinds(runtime: Runtime, referral: Referral) -> list[str]:
    return [o["kind"] for o in runtime.store.outbound_for(referral.id or 0)]


# -- a. a person's reasoned downgrade is not silently undone ----------------------------------


def oncall_texts(twilio: TwilioStandIn) -> list[str]:
    return [m.value("Body") for m in twilio.messages if m.value("To") == ONCALL_SMS]


def test_a_later_emergency_text_does_not_undo_an_advocates_reasoned_downgrade(
    phone: Phone, runtime: Runtime, twilio: TwilioStandIn
) -> None:
    runtime.settings = runtime.settings.with_(oncall_duty_contacts=(ONCALL_SMS,))
    phone.text(FIRST_EMERGENCY)
    referral = only_referral(runtime)
    assert referral.urgency == "emergency"
    assert len(oncall_texts(twilio)) == 1  # the emergency as it came in

    triage.set_urgency(runtime, referral, ADVOCATE, "routine", DOWNGRADE_REASON)
    decided = only_referral(runtime)
    assert (decided.urgency, decided.urgency_decided_by) == ("routine", ADVOCATE)
    assert decided.new_message_at is None

    phone.text(LATER_EMERGENCY)  # within the conversation window: it joins

    after = only_referral(runtime)
    assert after.reference == referral.reference
    assert len(runtime.store.messages_for(after.id or 0)) == 2
    assert after.urgency == "routine"  # the advocate's decision stands ...
    assert after.urgency_decided_by == ADVOCATE
    assert after.new_message_at is not None  # ... but the referral is marked for them
    assert after.screening["urgency"] == "routine"
    assert after.screening["needs_review"]
    reason = after.screening["review_reason"]
    assert "emergency" in reason and "routine" in reason

    # the person hears the 999 advice again, alone: no machine question after such a text
    answer = [m.value("Body") for m in twilio.messages if m.value("To") == NUMBER][-1]
    assert "999" in answer and questions_in(answer) == []

    alerts = oncall_texts(twilio)
    assert len(alerts) == 2  # on-call hears about the new message too
    assert referral.reference in alerts[-1]
    assert "screens as an emergency" in alerts[-1]
    for word in ("paracetamol", "swallowed", "tonight", "die"):
        assert word not in alerts[-1].lower()

    trail = runtime.store.audit_for(referral.id)
    [changed] = [a for a in trail if a["action"] == "referral.urgency_changed"]
    assert changed["actor"] == ADVOCATE
    assert changed["detail"] == {
        "from": "emergency",
        "to": "routine",
        "reason": DOWNGRADE_REASON,
    }
    [above] = [a for a in trail if a["action"] == "referral.screened_above_decision"]
    assert above["detail"] == {"screened": "emergency", "kept": "routine"}
    assert trail.index(changed) < trail.index(above)
    assert "referral.escalated" not in actions(runtime, referral)[trail.index(changed) :]


# -- b. no machine question once an advocate has replied --------------------------------------


def test_no_automatic_question_after_an_advocate_has_replied(
    phone: Phone, runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    answer = "It's about a care assessment, the council are reviewing her care and support"
    # without a reply, the answer to "need" is followed by the next question
    other = Phone(runtime, live_url, http, twilio, "+447700900422")
    other.text("Hi, I need some help please")
    other.text(answer)
    [_, question] = other.received()
    assert questions_in(question)

    phone.text("Hi, I need some help please")
    [ack] = phone.received()
    assert questions_in(ack) == ["need"]
    referral = runtime.store.get_referral(
        next(r.reference for r in runtime.store.list_referrals() if r.sender == NUMBER)
    )
    assert referral is not None
    said = triage.reply(
        runtime,
        referral,
        ADVOCATE,
        channel="sms",
        to=NUMBER,
        template="call_back",  # templates/replies/call_back.txt
        nonce="reply-1",
    )
    assert said == "Reply sent."
    assert len(phone.received()) == 2

    phone.text(answer)
    phone.text("Is anyone there? I can talk now")
    assert len(phone.received()) == 2  # the acknowledgement and the advocate's reply only
    after = runtime.store.get_referral(referral.reference)
    assert after is not None
    assert len(runtime.store.messages_for(after.id or 0)) == 3  # the texts still joined
    assert after.fields["advocacy_type"] == "care_act"  # and the answer was still read
    assert outbound_kinds(runtime, after) == ["ack", "reply"]


# -- c. an answer to our closed question joins its referral, even a closed one ----------------

CLOSED_QUESTION_CASES = {
    "contact": (
        ["I need help with a care assessment"],
        "contact",
        "TEXT",
        {"preferred_contact": "sms", "safe_to_contact": True},
    ),
    "contact-after-need": (
        [
            "Hi, I need some help please",
            "It's about a care assessment, the council are reviewing the care and support",
        ],
        "contact",
        "TEXT",
        {"preferred_contact": "sms", "safe_to_contact": True},
    ),
    "consent": (
        ["my mum needs an advocate for her care assessment, text me on this number"],
        "consent",
        "yes",
        {"consent": True},
    ),
}


@pytest.mark.parametrize("after_window", [False, True], ids=["in-window", "after-window"])
@pytest.mark.parametrize("case", list(CLOSED_QUESTION_CASES))
def test_an_answer_to_our_closed_question_reopens_the_closed_referral(
    phone: Phone, runtime: Runtime, case: str, after_window: bool
) -> None:
    texts, key, answer, expected = CLOSED_QUESTION_CASES[case]
    for body in texts:
        phone.text(body)
    asked = [k for body in phone.received() for k in questions_in(body)]
    assert asked[-1] == key, f"intake asked {asked}, not {key!r}"
    referral = only_referral(runtime)
    assert runtime.store.conversations.get(referral.id or 0).pending == key  # type: ignore[union-attr]
    for field in expected:
        if field != "safe_to_contact":
            assert referral.fields.get(field) != expected[field]

    triage.close(runtime, referral, ADVOCATE, triage.OUTCOMES[3])
    assert only_referral(runtime).status == "closed"
    if after_window:
        age_conversations(runtime, runtime.settings.conversation_window_minutes + 5)
    sent_before = len(phone.received())
    acks_before = outbound_kinds(runtime, referral).count("ack")

    phone.text(answer)

    after = only_referral(runtime)  # no new referral
    assert after.reference == referral.reference
    stored = runtime.store.messages_for(after.id or 0)
    assert stored[-1]["body"] == answer
    assert stored[-1]["meta"]["joined_by"] == "conversation"
    assert after.status == "open"
    assert after.new_message_at is not None
    for field, value in expected.items():
        assert after.fields[field] == value
    assert after.fields["provenance"][next(iter(expected))]["question"] == key
    assert outbound_kinds(runtime, after).count("ack") == acks_before  # no fresh acknowledgement
    assert not any(after.reference in body for body in phone.received()[sent_before:])
    trail = runtime.store.audit_for(after.id)
    names = [a["action"] for a in trail]
    assert names.index("referral.closed") < names.index("referral.reopened")
    assert trail[names.index("referral.reopened")]["actor"] == "system"  # by the message
    assert "referral.question_answered" in names
    assert runtime.store.conversations.get(after.id or 0).pending != key  # type: ignore[union-attr]


# -- d. an email reply's facts are kept --------------------------------------------------------

POSTCODE_REPLY = (
    "Sorry, I forgot to say: his postcode is LS6 2QT and you can ring me on 07700 900456.\n"
)


def email_referral_and_reply(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay, body: str, *, subject: str
) -> tuple[Referral, Referral]:
    """An email referral, then a reply threaded on our acknowledgement: (before, after)."""
    deliver(smtp, new_email())
    build_worker(runtime, simple=True).work(burst=True)
    before = only_referral(runtime)
    [ack] = relay.received
    reply = new_email(
        body,
        subject=subject.format(ack=ack.message["Subject"]),
        message_id="<amira-2@example.com>",
        In_Reply_To=ack.message["Message-ID"],
        References=f"<amira-1@example.com> {ack.message['Message-ID']}",
    )
    deliver(smtp, reply)
    build_worker(runtime, simple=True).work(burst=True)
    after = only_referral(runtime)
    assert after.reference == before.reference
    stored = runtime.store.messages_for(after.id or 0)
    assert [m["meta"].get("joined_by") for m in stored] == [None, "headers"]
    return before, after


def test_an_email_reply_adds_the_postcode_it_states(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    before, after = email_referral_and_reply(
        runtime, smtp, relay, POSTCODE_REPLY, subject="Re: Referral for my father"
    )
    assert "postcode" not in before.fields
    assert after.fields["postcode"] == "LS6 2QT"
    assert after.fields["provenance"]["postcode"]["message"] == "amira-2@example.com"
    assert after.fields["provenance"]["postcode"]["source"] == "headers"
    assert after.fields["name"] == before.fields["name"] == "Geoffrey Lane"  # known: kept
    assert after.fields["advocacy_type"] == before.fields["advocacy_type"]


def test_an_email_reply_adds_the_phone_number_it_states(
    runtime: Runtime, smtp: Settings, relay: RecordingRelay
) -> None:
    before, after = email_referral_and_reply(
        runtime, smtp, relay, POSTCODE_REPLY, subject="Re: {ack}"
    )
    assert "phone" not in (before.fields.get("referrer") or {})
    assert after.fields["referrer"].get("phone") == "+447700900456"
    assert after.fields["referrer"]["email"] == "amira.lane@example.com"


def test_a_reference_in_a_reply_subject_is_not_read_as_the_postcode() -> None:
    from intake.extraction import extract

    said = "Re: Referral for my father [REF-S3V2RE]\n\n" + POSTCODE_REPLY
    assert extract(said, "email", "amira.lane@example.com").to_dict().get("postcode") == (
        "LS6 2QT"
    )
