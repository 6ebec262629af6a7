"""Voicemail through Twilio Voice: the webhooks a call passes through, and their TwiML.

Like SMS, every route only checks Twilio's signature, queues what it learnt for the worker and
answers at once; nothing touches the database on the request. The worker
(`channels/voice/calls.py`) assembles one referral per CallSid from whichever callbacks arrive, in
whatever order. Routes:

- `POST /twilio/voice`               the call comes in: greeting, optional menu, `<Record>`
- `POST /twilio/voice/menu`          the keypad choice (1 = someone is in danger now)
- `POST /twilio/voice/dialled`       after the on-call number was rung
- `POST /twilio/voice/recorded`      `<Record action>`: thank the caller and hang up
- `POST /twilio/voice/recording`     recording status callback: URL and duration
- `POST /twilio/voice/transcription` Twilio's transcript (or its failure)
- `POST /twilio/voice/status`        call status callback: how the call ended (missed calls)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from channels.twilio import base_url, signature_is_valid
from channels.voice import twiml as voice_twiml
from intake.config import Settings
from intake.hours import is_open, load_bank_holidays, parse_opening_hours
from intake.priority import priority_for
from intake.queue import QueueUnavailable, enqueue_inbound

log = logging.getLogger(__name__)

# Form fields worth keeping; Twilio may add others at any time.
KEPT_FIELDS = (
    "CallSid",
    "AccountSid",
    "From",
    "To",
    "CallStatus",
    "CallDuration",
    "Direction",
    "FromCountry",
    "Digits",
    "DialCallStatus",
    "RecordingSid",
    "RecordingUrl",
    "RecordingStatus",
    "RecordingDuration",
    "TranscriptionSid",
    "TranscriptionStatus",
    "TranscriptionText",
    "TranscriptionUrl",
)


def event_from_form(form: Mapping[str, Any], received_at: datetime | None = None) -> dict[str, Any]:
    """Twilio's form → the plain dict a voice job carries (pure; unknown fields dropped)."""
    event: dict[str, Any] = {key: str(form[key]) for key in KEPT_FIELDS if form.get(key)}
    if "From" in form:
        event["From"] = str(form["From"])  # an empty caller ID is a withheld one, not unknown
    event["received_at"] = (received_at or datetime.now(UTC)).isoformat()
    return event


def out_of_hours(settings: Settings, when: datetime | None = None) -> bool:
    sessions = parse_opening_hours(settings.voice_opening_hours)
    holidays = load_bank_holidays(settings.voice_bank_holidays_file)
    return not is_open(when or datetime.now(UTC), sessions, holidays, settings.voice_timezone)


def callback_urls(settings: Settings, request: Request) -> voice_twiml.Urls:
    """Where Twilio calls back: the public base URL when set, else the address this server
    listens on (never the Host header: `channels.twilio.base_url`)."""
    return voice_twiml.Urls(base_url(settings, request))


def twiml(xml: str) -> Response:
    return Response(xml, media_type="application/xml")


async def _accept(
    request: Request,
    kind: str | None,
    answer: Callable[[Settings, voice_twiml.Urls, dict[str, Any]], str],
    *,
    priority: Callable[[dict[str, Any]], str] = lambda _event: "default",
) -> Response:
    """Check the signature, queue the event (when `kind` is given), answer with TwiML."""
    runtime = request.app.state.runtime
    settings: Settings = runtime.settings
    form = await request.form()
    if not signature_is_valid(settings, request, form):
        log.warning("refused voice webhook %s: missing or invalid signature", request.url.path)
        return PlainTextResponse("invalid signature", status_code=403)
    event = event_from_form(form)
    call_sid = event.get("CallSid", "")
    if not call_sid:
        return PlainTextResponse("CallSid is required", status_code=400)
    if kind is not None:
        try:
            await run_in_threadpool(
                enqueue_inbound,
                settings,
                runtime.redis,
                "voice",
                {"kind": kind, "event": event},
                priority=priority(event),
                key=f"{kind}-{call_sid}",
            )
        except QueueUnavailable:
            log.error("queue unavailable: refused voice %s for %s with 503", kind, call_sid)
            return PlainTextResponse("queue unavailable, try again", status_code=503)
    return twiml(answer(settings, callback_urls(settings, request), event))


async def incoming_call(request: Request) -> Response:
    return await _accept(
        request,
        "call_started",
        lambda s, urls, _e: voice_twiml.greeting(s, urls, out_of_hours=out_of_hours(s)),
        priority=lambda _e: "high",  # the call's row must exist before its other events
    )


async def menu_choice(request: Request) -> Response:
    def answer(s: Settings, urls: voice_twiml.Urls, event: dict[str, Any]) -> str:
        return voice_twiml.menu_answer(
            s, urls, event.get("Digits", ""), out_of_hours=out_of_hours(s)
        )

    return await _accept(request, "menu_choice", answer, priority=lambda _e: "high")


async def dialled(request: Request) -> Response:
    def answer(s: Settings, urls: voice_twiml.Urls, event: dict[str, Any]) -> str:
        return voice_twiml.after_dial(
            s, urls, event.get("DialCallStatus", ""), out_of_hours=out_of_hours(s)
        )

    return await _accept(request, "dial_finished", answer, priority=lambda _e: "high")


async def recorded(request: Request) -> Response:
    # The recording status callback carries the same facts; this only ends the call politely.
    return await _accept(request, None, lambda s, _u, _e: voice_twiml.thank_you(s))


async def recording(request: Request) -> Response:
    return await _accept(request, "recording", lambda _s, _u, _e: voice_twiml.empty())


async def transcription(request: Request) -> Response:
    return await _accept(
        request,
        "transcription",
        lambda _s, _u, _e: voice_twiml.empty(),
        priority=lambda e: priority_for(e.get("TranscriptionText", ""), "voice"),
    )


async def call_status(request: Request) -> Response:
    return await _accept(request, "call_ended", lambda _s, _u, _e: voice_twiml.empty())


routes = [
    Route("/twilio/voice", incoming_call, methods=["POST"]),
    Route("/twilio/voice/menu", menu_choice, methods=["POST"]),
    Route("/twilio/voice/dialled", dialled, methods=["POST"]),
    Route("/twilio/voice/recorded", recorded, methods=["POST"]),
    Route("/twilio/voice/recording", recording, methods=["POST"]),
    Route("/twilio/voice/transcription", transcription, methods=["POST"]),
    Route("/twilio/voice/status", call_status, methods=["POST"]),
]
