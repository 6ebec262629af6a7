"""The local speech-to-text plug-in: the worker downloads the recording (with the account's
credentials) and runs the configured program on it; Twilio is never asked to transcribe."""

from __future__ import annotations

import base64
import shlex
import sys
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intake.runtime import Runtime
from tests.channels.voice.calls import URGENT, Call, drain, post
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.servers import serve
from tests.support.twilio_standin import TwilioStandIn

# Stands in for a speech-to-text program: the "audio" it is given is the text itself.
STT = f"{shlex.quote(sys.executable)} -c 'import sys; print(open(sys.argv[1]).read())' {{file}}"


@pytest.fixture
def media() -> Iterator[tuple[str, list[str]]]:
    """A recording server like Twilio's: WAV bytes behind HTTP basic auth."""
    seen: list[str] = []
    expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()

    async def recording(request: Request) -> Response:
        seen.append(request.url.path)
        if request.headers.get("authorization") != expected:
            return Response(status_code=401)
        return Response(URGENT.encode(), media_type="audio/x-wav")

    app = Starlette(routes=[Route("/Recordings/{sid}", recording)])
    with serve(app) as url:
        yield url, seen


def test_command_engine_transcribes_the_downloaded_recording(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    media: tuple[str, list[str]],
) -> None:
    import xml.etree.ElementTree as ET

    runtime.settings = runtime.settings.with_(
        voice_transcription="command", voice_transcription_command=STT
    )
    call = Call(caller="+447700900301")
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{call.recording_sid}"
    twilio.credentials = (ACCOUNT_SID, AUTH_TOKEN)
    twilio.add_media(path + ".wav", "audio/x-wav", URGENT.encode())
    answer = post(http, live_url, "/twilio/voice", call.incoming())
    record = ET.fromstring(answer.text).find("Record")
    assert record is not None and record.get("transcribe") is None
    form = {**call.recording(27), "RecordingUrl": twilio.url + path}
    assert post(http, live_url, "/twilio/voice/recording", form).status_code == 200
    drain(runtime)

    assert [r.path for r in twilio.media_requests] == [path + ".wav"]
    referral = runtime.store.find_referral_for_message("voice", call.call_sid)
    assert referral is not None
    assert referral.raw_text == URGENT
    assert referral.urgency == "urgent"
    assert referral.fields["voicemail"]["transcript_engine"] == "command"
    assert len([m for m in twilio.messages if m.value("To") == call.caller]) == 1


def test_recording_elsewhere_than_twilio_is_never_fetched_with_our_credentials(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    media: tuple[str, list[str]],
) -> None:
    """A signed RecordingUrl that is not on Twilio's API host (or not our account's) is refused:
    nothing is sent to it, least of all the account's credentials, and a person listens."""
    media_url, seen = media
    runtime.settings = runtime.settings.with_(
        voice_transcription="command", voice_transcription_command=STT
    )
    call = Call(caller="+447700900303")
    post(http, live_url, "/twilio/voice", call.incoming())
    form = {**call.recording(27), "RecordingUrl": f"{media_url}/Recordings/{call.recording_sid}"}
    post(http, live_url, "/twilio/voice/recording", form)
    drain(runtime)
    assert seen == []
    referral = runtime.store.find_referral_for_message("voice", call.call_sid)
    assert referral is not None
    assert referral.fields["voicemail"]["transcript_status"] == "unavailable"


def test_recording_redirected_off_twilio_is_refused(
    runtime: Runtime,
    live_url: str,
    http: httpx.Client,
    twilio: TwilioStandIn,
    media: tuple[str, list[str]],
) -> None:
    media_url, seen = media
    runtime.settings = runtime.settings.with_(
        voice_transcription="command", voice_transcription_command=STT
    )
    call = Call(caller="+447700900304")
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{call.recording_sid}"
    twilio.redirects[path + ".wav"] = f"{media_url}/Recordings/{call.recording_sid}"
    post(http, live_url, "/twilio/voice", call.incoming())
    post(
        http,
        live_url,
        "/twilio/voice/recording",
        {**call.recording(27), "RecordingUrl": twilio.url + path},
    )
    drain(runtime)
    assert [r.path for r in twilio.media_requests] == [path + ".wav"]
    assert seen == []  # the redirect to a host that is not Twilio's was not followed
    referral = runtime.store.find_referral_for_message("voice", call.call_sid)
    assert (
        referral is not None and referral.fields["voicemail"]["transcript_status"] == "unavailable"
    )


def test_command_that_fails_flags_the_referral(
    runtime: Runtime, live_url: str, http: httpx.Client, twilio: TwilioStandIn
) -> None:
    failing = f"{shlex.quote(sys.executable)} -c 'raise SystemExit(3)'"
    runtime.settings = runtime.settings.with_(
        voice_transcription="command", voice_transcription_command=failing
    )
    call = Call(caller="+447700900302")
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{call.recording_sid}"
    twilio.add_media(path + ".wav", "audio/x-wav", URGENT.encode())
    post(http, live_url, "/twilio/voice", call.incoming())
    form = {**call.recording(27), "RecordingUrl": twilio.url + path}
    post(http, live_url, "/twilio/voice/recording", form)
    drain(runtime)
    referral = runtime.store.find_referral_for_message("voice", call.call_sid)
    assert referral is not None
    assert referral.fields["voicemail"]["transcript_status"] == "unavailable"
    assert referral.screening["needs_review"] is True
