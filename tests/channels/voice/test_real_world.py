"""Real-world voicemail callbacks (issue 15), through the signed webhooks, a real worker and the
API: what the referral says once its transcript is in, and for the case system."""

from __future__ import annotations

import httpx

from intake.runtime import Runtime
from tests.channels.sms.support import api_referral
from tests.channels.voice.calls import Call, drain, post


def test_the_voicemail_note_follows_the_transcript(
    runtime: Runtime, live_url: str, http: httpx.Client
) -> None:
    """The case's three callbacks in their order: call, recording, transcription. The note said
    "transcript pending" after the transcript had come; now it says what is true, in the API and
    in what the case system is sent."""
    call = Call(caller="+447700900322")
    post(http, live_url, "/twilio/voice", call.incoming())
    post(http, live_url, "/twilio/voice/recording", call.recording(20))
    drain(runtime)
    referral = runtime.store.find_referral_for_message("voice", call.call_sid)
    assert referral is not None
    pending = api_referral(http, live_url, referral.reference)["fields"]["voicemail"]
    assert pending["note"] == "Voicemail: transcript pending."

    text = "Hello I would like an advocate for my care review please call me back"
    post(http, live_url, "/twilio/voice/transcription", call.transcription(text))
    drain(runtime)
    fields = api_referral(http, live_url, referral.reference)["fields"]["voicemail"]
    assert fields["transcript_status"] == "completed"
    assert fields["note"] == "Voicemail: transcribed."
    stored = runtime.store.get_referral(referral.reference)
    assert stored is not None and stored.raw_text == text
