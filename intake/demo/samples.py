"""Sample referrals for the demo, sent through intake's real doors as the providers would.

Two texts as signed Twilio SMS webhooks (one of them an emergency), an email with an attached
referral form over SMTP, and a voicemail as Twilio's call, recording and transcription callbacks,
all signed with the demo's auth token against the public URL the service was given.
"""

from __future__ import annotations

import secrets
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx
from twilio.request_validator import RequestValidator

SERVICE_NUMBER = "+447700900000"
ACCOUNT_SID = "AC" + "d" * 32


@dataclass(frozen=True)
class Sender:
    """Who sent a sample, and how to find what they got back."""

    label: str
    address: str  # a phone number or an email address
    channel: str


SMS_ROUTINE = Sender("Sarah (text, about her dad)", "+447700900301", "sms")
SMS_EMERGENCY = Sender("Someone in crisis (text)", "+447700900302", "sms")
EMAIL = Sender("Jo Bloggs, social worker (email with a form)", "jo.bloggs@example.org", "email")
CALLER = Sender("Carol (voicemail)", "+447700900303", "voice")
SENDERS = (SMS_ROUTINE, SMS_EMERGENCY, EMAIL, CALLER)

TEXTS = {
    SMS_ROUTINE: (
        "Hi, my dad Tom Evans is on a section 2 at Willow Lodge, he wants to appeal and needs "
        "an advocate. He agrees to me texting you. Sarah, his daughter"
    ),
    SMS_EMERGENCY: "ive taken all my tablets about 30 paracetamol and i cant do this anymore",
}
EMAIL_BODY = (
    "Hello,\n\nI would like to refer Mrs Amina Patel (dob 03/04/1948) who lives at Beech House "
    "care home, Leeds LS6 2AB. She has dementia and the home plans to move her to a nursing home; "
    "she has no family to speak for her. The best interests meeting is on Friday. Our referral "
    "form is attached.\n\nKind regards,\nJo Bloggs\nSocial Worker, Leeds Adult Social Care\n"
    "0113 496 0000"
)
FORM = (
    "REFERRAL FORM\nName: Amina Patel\nDate of birth: 03/04/1948\nAddress: Beech House care home, "
    "Leeds LS6 2AB\nAdvocacy needed: IMCA (change of accommodation)\nReferrer: Jo Bloggs, "
    "social worker\n"
)
VOICEMAIL = (
    "Hi, my name is Carol Denton. I'm calling about my brother Michael who is on a section 3 at "
    "the Linden unit. He wants to appeal to the tribunal and would like an advocate. You can "
    "ring me back on this number. Thanks."
)


def _post(client: httpx.Client, base: str, path: str, form: dict[str, str], token: str) -> None:
    url = base + path
    signature = RequestValidator(token).compute_signature(url, form)
    response = client.post(url, data=form, headers={"X-Twilio-Signature": signature})
    response.raise_for_status()


def send_texts(base: str, token: str) -> None:
    with httpx.Client(timeout=10) as client:
        for sender, body in TEXTS.items():
            form = {
                "MessageSid": "SM" + secrets.token_hex(16),
                "AccountSid": ACCOUNT_SID,
                "From": sender.address,
                "To": SERVICE_NUMBER,
                "Body": body,
                "NumMedia": "0",
                "NumSegments": "1",
            }
            _post(client, base, "/twilio/sms", form, token)


def send_email(host: str, port: int, to: str) -> None:
    message = EmailMessage()
    message["From"] = f"Jo Bloggs <{EMAIL.address}>"
    message["To"] = to
    message["Subject"] = "Referral for Mrs Patel: IMCA, change of accommodation"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content(EMAIL_BODY)
    message.add_attachment(
        FORM.encode(), maintype="text", subtype="plain", filename="referral-form.txt"
    )
    with smtplib.SMTP(host, port, timeout=10) as client:
        client.send_message(message, from_addr=EMAIL.address, to_addrs=[to])


def send_voicemail(base: str, token: str) -> None:
    call = "CA" + secrets.token_hex(16)
    recording = "RE" + secrets.token_hex(16)
    recording_url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording}"
    common = {"CallSid": call, "AccountSid": ACCOUNT_SID}
    caller = {"From": CALLER.address, "To": SERVICE_NUMBER, "Direction": "inbound"}
    with httpx.Client(timeout=10) as client:
        _post(client, base, "/twilio/voice", {**common, **caller, "CallStatus": "ringing"}, token)
        _post(
            client,
            base,
            "/twilio/voice/recording",
            {
                **common,
                "RecordingSid": recording,
                "RecordingUrl": recording_url,
                "RecordingStatus": "completed",
                "RecordingDuration": "21",
            },
            token,
        )
        _post(
            client,
            base,
            "/twilio/voice/transcription",
            {
                **common,
                **caller,
                "CallStatus": "completed",
                "TranscriptionSid": "TR" + secrets.token_hex(16),
                "TranscriptionStatus": "completed",
                "TranscriptionText": VOICEMAIL,
                "RecordingSid": recording,
                "RecordingUrl": recording_url,
            },
            token,
        )
        _post(
            client,
            base,
            "/twilio/voice/status",
            {**common, **caller, "CallStatus": "completed", "CallDuration": "35"},
            token,
        )
