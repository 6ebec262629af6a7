"""STOP, START and HELP: through the webhook and worker, and the pure keyword reading."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from channels.sms import optout
from intake import outbound
from intake.models import utcnow
from intake.runtime import Runtime
from tests.channels.sms.support import Phone, age_conversations, api_referral, api_referrals
from tests.support.twilio_standin import TwilioStandIn


@pytest.fixture
def phone(runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn) -> Phone:
    return Phone(runtime, live_url, http, twilio, "+447700900411")


def test_stop_is_honoured_until_start(phone: Phone, runtime: Runtime) -> None:
    phone.text("Hi, I need some help please")
    assert len(phone.received()) == 1
    phone.text("STOP", OptOutType="STOP")
    stored = optout.status(runtime.store, phone.number)
    assert stored is not None and stored["opted_out"] is True and stored["keyword"] == "STOP"
    assert len(phone.received()) == 1  # nothing in reply to STOP

    phone.text("It's about a care assessment for my mum")  # joins; no question goes out
    age_conversations(runtime, 30)
    phone.text("Can you help me with a complaint about my GP")  # a new referral: no ack either
    assert len(phone.received()) == 1
    listed = api_referrals(phone.http, phone.url)
    assert len(listed) == 2
    newest = max(listed, key=lambda r: str(r["received_at"]))
    detail = api_referral(phone.http, phone.url, str(newest["reference"]))
    assert [(o["kind"], o["status"]) for o in detail["outbound"]] == [("ack", "suppressed")]

    phone.text("START", OptOutType="START")
    assert optout.is_opted_out(runtime.store, phone.number) is False
    age_conversations(runtime, 30)
    phone.text("Hi, I need help with my dad's care assessment please")
    assert len(phone.received()) == 2  # texts flow again after START


def test_stop_during_a_conversation_is_kept_with_the_referral(phone: Phone) -> None:
    phone.text("Hi, I need some help please")
    phone.text("Stop.")  # our own keyword list, without Twilio's OptOutType
    [listed] = api_referrals(phone.http, phone.url)
    detail = api_referral(phone.http, phone.url, str(listed["reference"]))
    assert [m["body"] for m in detail["messages"]] == ["Hi, I need some help please", "Stop."]
    assert detail["messages"][1]["meta"]["joined_by"] == "keyword:stop"
    assert optout.is_opted_out(phone.runtime.store, phone.number)


def test_help_is_answered_from_the_template_and_makes_no_referral(phone: Phone) -> None:
    phone.text("HELP", OptOutType="HELP")
    [reply] = phone.received()
    assert "STOP" in reply and "999" in reply
    assert phone.runtime.settings.org_name in reply
    assert api_referrals(phone.http, phone.url) == []
    phone.text("help")
    assert len(phone.received()) == 2  # each HELP is answered (up to the rate limit)


def test_help_during_a_conversation_quotes_the_reference(phone: Phone) -> None:
    phone.text("Hi, I need some help please")
    [listed] = api_referrals(phone.http, phone.url)
    phone.text("HELP")
    assert str(listed["reference"]) in phone.received()[-1]


def test_a_sentence_with_stop_in_it_is_a_message(phone: Phone) -> None:
    phone.text("please stop the care home moving my mum")
    assert not optout.is_opted_out(phone.runtime.store, phone.number)
    assert len(api_referrals(phone.http, phone.url)) == 1
    assert len(phone.received()) == 1


def test_yes_is_an_answer_unless_the_number_opted_out(phone: Phone, runtime: Runtime) -> None:
    phone.text("YES", OptOutType="START")  # Twilio tags YES as START; we are not opted out
    assert len(api_referrals(phone.http, phone.url)) == 1
    phone.text("STOP")
    phone.text("yes")
    assert optout.is_opted_out(runtime.store, phone.number) is False  # YES opted back in


def test_a_stale_stop_retried_after_start_does_not_opt_out_again(runtime: Runtime) -> None:
    now = utcnow()
    number = "+447700900499"
    assert optout.record(
        runtime.store, number, opted_out=True, keyword="STOP", provider_id="SM1", at=now
    )
    assert optout.record(
        runtime.store,
        number,
        opted_out=False,
        keyword="START",
        provider_id="SM2",
        at=now + timedelta(seconds=5),
    )
    assert not optout.record(
        runtime.store, number, opted_out=True, keyword="STOP", provider_id="SM1x", at=now
    )
    assert optout.is_opted_out(runtime.store, number) is False


def test_outbound_refuses_sms_to_an_opted_out_number(
    runtime: Runtime, twilio: TwilioStandIn
) -> None:
    number = "+447700900498"
    optout.record(
        runtime.store, number, opted_out=True, keyword="STOP", provider_id="SM9", at=utcnow()
    )
    outcome = outbound.send(
        runtime,
        channel="sms",
        to=number,
        body="hello",
        kind="question",
        referral_id=None,
        dedupe_key="q-test",
    )
    assert outcome.status == "suppressed"
    assert twilio.messages == []


def test_twilio_21610_is_remembered_as_an_opt_out(runtime: Runtime, twilio: TwilioStandIn) -> None:
    number = "+447700900497"
    twilio.fail_next(1, status=400, code=21610)
    outcome = outbound.send(
        runtime,
        channel="sms",
        to=number,
        body="hello",
        kind="ack",
        referral_id=None,
        dedupe_key="ack-21610",
    )
    assert outcome.status == "rejected"
    assert optout.is_opted_out(runtime.store, number)


@pytest.mark.parametrize(
    ("body", "meta", "opted_out", "expected"),
    [
        ("STOP", {}, False, "stop"),
        ("stopall", {}, False, "stop"),
        (" Unsubscribe! ", {}, False, "stop"),
        ("cancel", {}, False, "stop"),
        ("quit", {}, False, "stop"),
        ("END", {}, False, "stop"),
        ("revoke", {}, False, "stop"),
        ("optout", {}, False, "stop"),
        ("start", {}, True, "start"),
        ("UNSTOP", {}, True, "start"),
        ("yes", {}, True, "start"),
        ("yes", {}, False, None),
        ("Yes", {"OptOutType": "START"}, False, None),
        ("help", {}, False, "help"),
        ("please stop texting", {}, False, None),
        ("arret", {"OptOutType": "STOP"}, False, "stop"),  # Twilio's custom keywords win
        ("", {}, False, None),
    ],
)
def test_keyword_of(body: str, meta: dict[str, str], opted_out: bool, expected: str | None) -> None:
    assert optout.keyword_of(body, meta, opted_out=opted_out) == expected
