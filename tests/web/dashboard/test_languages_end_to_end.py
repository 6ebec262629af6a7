"""Every sender answered in their language, their communication needs carried through.

Real doors (signed Twilio webhooks, a real SMTP session), a real worker, the Twilio stand-in and
a recording relay for what was sent, and the dashboard over HTTP for what an advocate sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from intake import languages, triage
from intake.forwarding import payload
from intake.forwarding.base import ForwardEvent
from intake.languages import Choice
from intake.models import Referral, utcnow
from intake.runtime import Runtime
from intake.triage import ActionRefused
from tests.channels.email.smtp_support import (
    INTAKE_ADDRESS,
    RecordingRelay,
    deliver,
    email_settings,
    intake_smtp,
    recording_relay,
)
from tests.channels.sms.support import Phone
from tests.support.twilio_standin import TwilioStandIn
from worker import build_worker

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
WELSH = (
    "Helo, mae fy mam yn yr ysbyty ac maen nhw am ei symud i gartref gofal. Dydy hi ddim "
    "eisiau mynd. Allwch chi helpu?"
)
POLISH = (
    "Dzień dobry, moja mama jest w szpitalu i chcą ją przenieść do domu opieki. "
    "Ona nie chce. Czy możecie pomóc?"
)
URDU = (
    "السلام علیکم، میری والدہ ہسپتال میں ہیں اور وہ انہیں کیئر ہوم بھیجنا چاہتے ہیں۔ "
    "وہ نہیں جانا چاہتیں۔ ہمیں مدد چاہیے۔"
)
ENGLISH = (
    "Hello, my dad is in hospital and they want to send him to a care home. "
    "He does not want to go. Can someone help?"
)
BSL = (
    "Hi I'm Deaf and a BSL user, please text me only. I need help with a complaint about "
    "my hospital discharge."
)


def phone(
    runtime: Runtime, url: str, http: httpx.Client, twilio: TwilioStandIn, number: str
) -> Phone:
    return Phone(runtime, url, http, twilio, number)


def only(runtime: Runtime) -> Referral:
    (referral,) = runtime.store.list_referrals(limit=10)
    return referral


def test_a_text_in_welsh_gets_a_welsh_acknowledgement(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    person = phone(runtime, live_url, http, twilio, "+447700900401")
    person.text(WELSH)
    (ack,) = person.received()
    referral = only(runtime)
    assert referral.language == "cy"
    assert ack.startswith("Diolch, rydym wedi cael eich neges.")
    assert f"Eich cyfeirnod yw {referral.reference}." in ack
    assert "Thank you" not in ack


def test_a_text_in_polish_gets_a_polish_acknowledgement_with_the_reference(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    person = phone(runtime, live_url, http, twilio, "+447700900402")
    person.text(POLISH)
    (ack,) = person.received()
    referral = only(runtime)
    assert referral.language == "pl"
    assert f"Twój numer sprawy to {referral.reference}." in ack
    assert ack.startswith("Dziękujemy, otrzymaliśmy Twoją wiadomość.")
    # Any question that rides on it is in Polish too.
    assert "Thank you" not in ack and "Could you" not in ack
    # HELP has no Polish text yet: English, with the Polish line offering an interpreter.
    person.text("HELP")
    help_text = person.received()[-1]
    assert help_text.startswith("This is") and referral.reference in help_text
    assert help_text.endswith("Możesz napisać do nas po polsku. Znajdziemy tłumacza.")


@pytest.fixture
def mail(runtime: Runtime) -> Iterator[tuple[object, RecordingRelay]]:
    with (
        recording_relay() as relay,
        intake_smtp(runtime, email_settings(runtime, relay.url)) as smtp,
    ):
        yield smtp, relay


def test_an_email_in_urdu_script_gets_an_urdu_reply_written_right_to_left(
    runtime: Runtime, mail: tuple[object, RecordingRelay]
) -> None:
    from email.message import EmailMessage

    smtp, relay = mail
    message = EmailMessage()
    message["From"] = "Fatima <fatima@example.com>"
    message["To"] = INTAKE_ADDRESS
    message["Subject"] = "مدد"
    message["Message-ID"] = "<urdu-1@example.com>"
    message.set_content(URDU)
    deliver(smtp, message)  # type: ignore[arg-type]
    build_worker(runtime, simple=True).work(burst=True)
    referral = only(runtime)
    assert referral.language == "ur"
    (sent,) = relay.received
    reply = sent.message
    assert reply["Content-Language"] == "ur"
    assert referral.reference in reply["Subject"]
    assert "ہمیں آپ کا ریفرل مل گیا ہے" in reply["Subject"]
    text = reply.get_body(("plain",))
    html = reply.get_body(("html",))
    assert text is not None and html is not None
    assert f"آپ کا حوالہ نمبر {referral.reference} ہے" in text.get_content()
    page = html.get_content()
    assert '<html lang="ur" dir="rtl">' in page
    assert '<div lang="ur" dir="rtl">' in page and referral.reference in page


def test_a_recorded_welsh_preference_is_used_for_the_next_reply(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    runtime.settings = runtime.settings.with_(welsh_language_standards=True)
    person = phone(runtime, live_url, http, twilio, "+447700900403")
    person.text(ENGLISH)
    (ack,) = person.received()
    referral = only(runtime)
    # No preference yet: Welsh first, then English, and the question which they prefer.
    welsh_at = ack.index("Diolch, rydym wedi cael eich neges.")
    english_at = ack.index("Thank you, we've received your message.")
    assert welsh_at < english_at
    assert ack.count(referral.reference) == 2
    assert "Atebwch CYMRAEG neu ENGLISH" in ack and "Reply CYMRAEG or ENGLISH" in ack

    person.text("CYMRAEG")
    referral = only(runtime)
    assert referral.language_preference == "cy"
    assert any(
        e["action"] == "referral.language_preference" and e["detail"]["to"] == "cy"
        for e in runtime.store.audit_for(referral.id or 0)
    )
    _ack, follow_up = person.received()
    # The next question goes in Welsh alone.
    welsh_questions = {
        languages.render(TEMPLATES, f"questions/{p.name}", Choice("cy")).text
        for p in (TEMPLATES / "questions").glob("*.txt")
    }
    assert follow_up in welsh_questions

    # A later referral from the same number is answered in Welsh alone, without asking again.
    later = phone(runtime, live_url, http, twilio, "+447700900403")
    runtime.settings = runtime.settings.with_(conversation_window_minutes=0)
    later.text("I need help with a different matter, a complaint about my GP surgery please")
    newest = person.received()[-1]
    assert newest.startswith("Diolch, rydym wedi cael eich neges.")
    assert "Thank you" not in newest and "CYMRAEG neu ENGLISH" not in newest


def test_a_bsl_user_is_flagged_and_never_offered_a_voice_call_back(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    advocate: httpx.Client,
) -> None:
    person = phone(runtime, live_url, http, twilio, "+447700900404")
    person.text(BSL)
    referral = only(runtime)
    assert "bsl" in referral.fields["accessibility_needs"]

    # The flag at the top of the referral, and the call-back reply is not on offer.
    page = advocate.get(f"{live_url}/referrals/{referral.reference}").text
    flag_at = page.index('id="communication-needs"')
    assert flag_at < page.index('class="facts"')
    assert ">BSL</span>" in page[flag_at:]
    assert 'value="call_back"' not in page
    # In the queue too.
    queue = advocate.get(f"{live_url}/").text
    row = queue[queue.index(referral.reference) :]
    assert '<span class="flag need"' in row[:2000] and ">BSL</span>" in row[:2000]
    # Asked for anyway (a stale page, a hand-made request), it is refused.
    with pytest.raises(ActionRefused, match="cannot take voice calls"):
        triage.draft_reply(
            runtime, referral, channel="sms", to=person.number, template="call_back"
        )
    # And the case system is told, in named fields.
    event = ForwardEvent(
        referral=referral,
        event="created",
        event_id="e1",
        sequence=1,
        occurred_at=utcnow(),
        messages=runtime.store.messages_for(referral.id or 0),
    )
    sent = payload.build(event)["referral"]
    assert sent["no_voice_call"] is True
    assert "BSL" in sent["communication_needs"]


def test_a_caller_who_cannot_take_calls_is_not_promised_one(runtime: Runtime) -> None:
    from channels.voice import calls
    from intake.models import InboundMessage

    referral = Referral(
        reference="REF-7K2Q9D",
        channel="voice",
        sender="+447700900405",
        received_at=utcnow(),
        raw_text="",
        fields={"accessibility_needs": ["relay uk"]},
    )
    message = InboundMessage(
        channel="voice",
        provider_id="CA1",
        sender="+447700900405",
        recipient="",
        body="",
        meta={"transcript_status": "completed"},
    )
    plan = calls.acknowledgement(runtime, referral, message)
    assert "We will reply by text." in plan.body  # type: ignore[union-attr]
    assert "call you back" not in plan.body  # type: ignore[union-attr]


def test_the_contact_question_offers_no_call_to_someone_who_cannot_take_one(
    runtime: Runtime,
) -> None:
    from channels.sms import conversation

    def referral(**fields: object) -> Referral:
        return Referral(
            reference="REF-7K2Q9D",
            channel="sms",
            sender="+447700900406",
            received_at=utcnow(),
            raw_text="",
            fields=dict(fields),
        )

    deaf = conversation._wording(runtime, referral(accessibility_needs=["bsl"]), "contact")
    assert "CALL" not in deaf and "TEXT" in deaf
    hearing = conversation._wording(runtime, referral(), "contact")
    assert "CALL" in hearing
    polish = referral(accessibility_needs=["text only (deaf)"])
    polish.language = "pl"
    assert "TELEFON" not in conversation._wording(runtime, polish, "contact")
