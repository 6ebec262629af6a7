"""SMS conversations end to end: signed webhooks, Redis, a real worker, the Twilio stand-in."""

from __future__ import annotations

import httpx
import pytest
from rq import Queue

from intake.queue import queue_name
from intake.runtime import Runtime
from tests.channels.sms.support import (
    Phone,
    age_conversations,
    api_referral,
    api_referrals,
    links,
    question_texts,
    questions_in,
)
from tests.support.twilio_standin import TwilioStandIn

ANSWERS = {
    "need": "It's about a care assessment, the council are reviewing her care and support",
    "referral_for": "It's for my mum",
    "consent": "Yes she knows I'm texting and is happy for you to help",
    "contact": "Text is fine",
}


@pytest.fixture
def phone(runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn) -> Phone:
    return Phone(runtime, live_url, http, twilio, "+447700900311")


def only_referral(phone: Phone) -> dict[str, object]:
    [listed] = api_referrals(phone.http, phone.url)
    return api_referral(phone.http, phone.url, str(listed["reference"]))


def test_answers_fill_fields_one_question_at_a_time_until_nothing_is_missing(
    phone: Phone,
) -> None:
    phone.text("Hi, I need some help please")
    [first] = phone.received()
    reference = str(api_referrals(phone.http, phone.url)[0]["reference"])
    assert reference in first  # the acknowledgement ...
    assert questions_in(first) == ["need"]  # ... carries the first question, and only one

    asked = ["need"]
    for _turn in range(6):
        phone.text(ANSWERS[asked[-1]])
        new = phone.received()[len(asked) :]
        if not new:
            break
        [question] = new
        [key] = questions_in(question)
        assert key not in asked  # never the same question twice
        asked.append(key)
    assert len(asked) <= phone.runtime.settings.conversation_max_questions

    referral = only_referral(phone)
    fields = referral["fields"]
    assert isinstance(fields, dict)
    assert [m["channel"] for m in referral["messages"]] == ["sms"] * (len(asked) + 1)
    assert fields["advocacy_type"] == "care_act"
    assert fields["provenance"]["advocacy_type"]["source"] == "sms_answer"
    assert fields["provenance"]["advocacy_type"]["question"] == "need"
    assert len(asked) >= 2  # "need" was answered and a further question followed
    answered = {
        "referral_for": "referral_for",
        "consent": "consent",
        "contact": "preferred_contact",
    }
    for key in asked[1:]:
        field = answered[key]
        assert fields["provenance"][field]["source"] == "sms_answer"
        assert fields["provenance"][field]["question"] == key
    if "consent" in asked:
        assert fields["consent"] is True
    if "contact" in asked:
        assert fields["preferred_contact"] == "sms"
    kinds = [(o["kind"], o["status"]) for o in referral["outbound"]]
    assert kinds == [("ack", "sent")] + [("question", "sent")] * (len(asked) - 1)

    before = len(phone.received())
    phone.text("Thanks very much")  # nothing is missing or the limit is reached: no question
    assert len(phone.received()) == before
    assert len(api_referrals(phone.http, phone.url)) == 1


def test_questions_stop_at_the_configured_limit(phone: Phone) -> None:
    phone.runtime.settings = phone.runtime.settings.with_(conversation_max_questions=1)
    phone.text("Hi, I need some help please")
    assert questions_in(phone.received()[0]) == ["need"]
    phone.text("ok")
    phone.text("hello?")
    assert len(phone.received()) == 1  # one question asked, none after the limit
    referral = only_referral(phone)
    assert len(referral["messages"]) == 3


def test_no_question_when_nothing_essential_is_missing(phone: Phone) -> None:
    phone.text(
        "my dad needs help with a problem with his landlord and his benefits. he knows im "
        "texting and is happy for you to help. text me back on this number"
    )
    [ack] = phone.received()
    assert questions_in(ack) == []
    phone.text("his name is Frank Oduya")
    assert len(phone.received()) == 1
    referral = only_referral(phone)
    assert len(referral["messages"]) == 2


def test_after_the_essentials_the_advocacy_type_asks_for_what_the_law_needs(phone: Phone) -> None:
    # an IMCA referral with its decision known: who assessed capacity, and when (issue 17)
    phone.text(
        "my dad is on a ward and they want to move him to a care home, they say he lacks "
        "capacity and needs an IMCA. he knows im texting and is happy for you to help. text me "
        "back on this number"
    )
    [ack] = phone.received()
    assert questions_in(ack) == ["imca_capacity"]
    phone.text("Dr Shah on the ward, last Tuesday")
    assert len(phone.received()) == 1  # nothing else missing: no further question
    referral = only_referral(phone)
    assert referral["fields"]["capacity_assessed"] == "Dr Shah on the ward, last Tuesday"
    assert referral["fields"]["eligibility"]["decision_type"] == "accommodation"


def test_no_question_and_no_text_when_it_is_not_safe_to_contact(phone: Phone) -> None:
    phone.text("my partner hits me. please dont text back he checks my phone")
    phone.text("he is asleep now. I want to know what help there is")
    assert phone.twilio.messages == []
    referral = only_referral(phone)
    assert referral["safe_to_contact"] is False
    assert len(referral["messages"]) == 2  # the second text joined the first


def test_a_later_dont_contact_me_stops_the_questions(phone: Phone) -> None:
    phone.text("Hi, I need some help please")
    assert questions_in(phone.received()[0]) == ["need"]
    phone.text("please don't text me back, it isn't safe, he reads my messages")
    phone.text("I need help with a care assessment")
    assert len(phone.received()) == 1
    assert only_referral(phone)["safe_to_contact"] is False


def test_an_emergency_is_acknowledged_and_forwarded_at_once_with_no_question_first(
    phone: Phone,
) -> None:
    phone.text("ive taken all my tablets i cant do this anymore")
    [ack] = phone.received()
    assert "999" in ack
    assert questions_in(ack) == []
    referral = only_referral(phone)
    assert referral["urgency"] == "emergency"
    assert referral["forward_status"] == "delivered"
    # and when they text again the conversation goes on, updating the same referral
    phone.text("its for me, I am at home")
    referral = only_referral(phone)
    assert len(referral["messages"]) == 2
    assert referral["urgency"] == "emergency"


def test_a_conversation_that_becomes_an_emergency_gets_the_advice_at_once(
    phone: Phone, runtime: Runtime
) -> None:
    phone.text("Hi, I need some help please")
    assert "999" not in phone.received()[0]
    sid = "SM" + "e" * 32
    phone.text("I've taken all my tablets and I can't do this anymore", sid=sid)
    [_, advice] = phone.received()
    assert "999" in advice
    assert questions_in(advice) == []  # the advice goes alone
    referral = only_referral(phone)
    assert referral["urgency"] == "emergency"
    assert len(referral["messages"]) == 2
    # a redelivered webhook changes nothing
    phone.text("I've taken all my tablets and I can't do this anymore", sid=sid)
    assert len(phone.received()) == 2
    assert len(only_referral(phone)["messages"]) == 2


def test_urgency_is_never_lowered_by_a_calmer_text(phone: Phone) -> None:
    phone.text("ive taken all my tablets i cant do this anymore")
    phone.text("sorry ignore that, I'm fine, it was a joke")
    referral = only_referral(phone)
    assert referral["urgency"] == "emergency"


def test_texts_outside_the_window_start_a_new_referral_linked_to_the_first(
    phone: Phone, runtime: Runtime
) -> None:
    phone.text("Hi, I need some help please")
    age_conversations(runtime, 11)  # default window: 10 minutes
    phone.text("Can you help me with a complaint about my GP")
    listed = api_referrals(phone.http, phone.url)
    assert len(listed) == 2
    assert len(phone.received()) == 2  # each got its own acknowledgement
    [link] = links(runtime)
    assert link["reason"] == "same_contact"
    assert link["status"] == "suggested"


def test_texts_inside_a_configured_window_join(phone: Phone, runtime: Runtime) -> None:
    runtime.settings = runtime.settings.with_(conversation_window_minutes=30)
    phone.text("Hi, I need some help please")
    age_conversations(runtime, 20)
    phone.text("It's about my mum's care assessment")
    assert len(api_referrals(phone.http, phone.url)) == 1


def test_a_redelivered_reply_is_added_once_and_asks_nothing_twice(phone: Phone) -> None:
    phone.text("Hi, I need some help please")
    sid = "SM" + "d" * 32
    phone.text(ANSWERS["need"], sid=sid)
    sent = phone.received()
    phone.text(ANSWERS["need"], sid=sid)
    phone.text(ANSWERS["need"], sid=sid)
    assert phone.received() == sent
    assert len(only_referral(phone)["messages"]) == 2


def test_two_numbers_have_separate_conversations(
    phone: Phone, runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    other = Phone(runtime, live_url, http, twilio, "+447700900322")
    phone.text("Hi, I need some help please")
    other.text("Hi, I need some help please")
    phone.text(ANSWERS["need"])
    assert len(api_referrals(http, live_url)) == 2
    assert len(other.received()) == 1


def test_pieces_sent_together_on_both_queues_still_make_one_referral(
    phone: Phone, runtime: Runtime
) -> None:
    """An urgent piece goes on the high queue, a routine one on default: still one referral."""
    from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
    from tests.support.twilio_signing import post_signed
    from worker import build_worker

    pieces = ["Hi it's about my son", "he was sectioned under section 3 yesterday"]
    for i, body in enumerate(pieces):
        form = {
            "MessageSid": f"SM{i:032d}",
            "AccountSid": ACCOUNT_SID,
            "From": phone.number,
            "To": FROM_NUMBER,
            "Body": body,
        }
        response = post_signed(phone.http, phone.url + "/twilio/sms", form, AUTH_TOKEN)
        assert response.status_code == 200
    assert Queue(queue_name(runtime.settings, "high"), connection=runtime.redis).count == 1
    build_worker(runtime, simple=True).work(burst=True)
    referral = only_referral(phone)
    assert len(referral["messages"]) == 2
    assert referral["urgency"] == "urgent"


def test_question_wording_comes_from_the_templates(phone: Phone, tmp_path: object) -> None:
    import shutil
    from pathlib import Path

    from intake.config import Settings

    custom = Path(str(tmp_path)) / "templates"
    shutil.copytree(Settings.templates_dir, custom)
    (custom / "questions" / "need.txt").write_text("What can we help with? (custom wording)\n")
    phone.runtime.settings = phone.runtime.settings.with_(templates_dir=custom)
    phone.text("Hi, I need some help please")
    [ack] = phone.received()
    assert ack.endswith("What can we help with? (custom wording)")
    assert question_texts()["need"] not in ack


def test_an_acknowledgement_says_what_happens_next_outside_the_criteria(phone: Phone) -> None:
    phone.text("the police have my brother on a section 136, can someone help him")
    [ack] = phone.received()
    assert "Short-term holds under the Mental Health Act do not qualify" in ack
