"""The worker's side of voicemail: one referral per call, whatever order Twilio calls back in.

A call produces several events: it starts (the caller's number), perhaps a keypad choice, a
recording (URL, duration), a transcript (or its failure), and how the call ended. They arrive on
separate webhooks and can be run by different workers in any order, more than once. Each event is
applied to the call's row in `voice_calls` under a per-call Redis lock, and then the call's
referral is brought up to date from that row (`_sync`): made on the first event that shows a
voicemail (the message's provider id is the CallSid, unique in the store), re-screened when the
transcript arrives, flagged for listening when it never does. Urgency is never lowered
automatically, and the emergency keypad choice always keeps a referral an emergency.

Calls with no recording, or one shorter than `VOICE_MIN_RECORDING_SECONDS`, are missed calls: kept
in `voice_calls` for the call-back list, never referrals.

The caller gets one acknowledgement text, once the transcript has been screened (so "don't ring or
text me" in the message is honoured), only from a UK mobile number that was not withheld.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from rq import Queue, get_current_job

from intake import alerts, forwarding, pipeline
from intake.models import (
    URGENCIES,
    URGENCY_RANK,
    InboundMessage,
    Referral,
    received_at_from,
    utcnow,
)
from intake.queue import INBOUND_RETRY, queue_name, safe_job_id
from intake.runtime import Runtime
from intake.transcription import Recording, Transcript, engine_for

log = logging.getLogger(__name__)

CHANNEL = "voice"
SYSTEM_ACTOR = "system"
MENU_DANGER = "danger"
TRANSCRIPT_UNAVAILABLE = "transcript unavailable — listen to recording"
WITHHELD_SENDER = "withheld"
LOCK_TIMEOUT = 120  # seconds a lock may be held before Redis frees it (a killed worker)
LOCK_WAIT = 60
# What carriers and Twilio put in `From` when the number is hidden: words, and the same words
# spelt on a keypad (ANONYMOUS, RESTRICTED, UNAVAILABLE, BLOCKED, UNKNOWN, PRIVATE).
WITHHELD_VALUES = frozenset(
    {"", "anonymous", "restricted", "unavailable", "unknown", "private", "blocked", "withheld"}
)
WITHHELD_DIGITS = frozenset(
    {"266696687", "7378742833", "86282452253", "2562533", "8656696", "7748283"}
)
TIMEOUT_JOB = "intake.tasks.voice_transcript_timeout"
TRANSCRIBE_JOB = "intake.tasks.voice_transcribe"


class CallNotKnownYet(Exception):
    """An event without the caller's number came before the call's first event: retry soon."""


def is_withheld(number: str | None) -> bool:
    """Whether Twilio's `From` means the caller hid their number (pure)."""
    value = (number or "").strip().lower()
    return value in WITHHELD_VALUES or value.lstrip("+") in WITHHELD_DIGITS


def _received_at(event: dict[str, Any]) -> datetime:
    return received_at_from(event.get("received_at"))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _lock(runtime: Runtime, call_sid: str) -> Any:
    name = f"{runtime.settings.queue_prefix}:voice-lock:{call_sid}"
    return runtime.redis.lock(name, timeout=LOCK_TIMEOUT, blocking_timeout=LOCK_WAIT)


def _call(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """The call's row; events carrying `From` make it, the others wait for one that does."""
    call_sid = event["CallSid"]
    existing = runtime.store.calls.get(call_sid)
    if "From" not in event and existing is None:
        job = get_current_job()
        if job is not None and (job.retries_left or 0) > 0:
            raise CallNotKnownYet(call_sid)
        # Out of retries: keep the voicemail with an unknown caller rather than lose it.
    sender = str(event.get("From") or "")
    withheld = "From" in event and is_withheld(sender)
    return runtime.store.calls.ensure(
        call_sid,
        sender=WITHHELD_SENDER if withheld else sender,
        recipient=str(event.get("To") or ""),
        withheld=withheld,
        started_at=_received_at(event),
    )


# -- turning the call's row into its referral ---------------------------------------------------


def _note(call: dict[str, Any]) -> str:
    """What the referral's text says while there is no transcript."""
    if call["menu_choice"] == MENU_DANGER:
        return "Caller pressed 1 (someone is in danger now): put through to the on-call number."
    if call["transcript_status"] == "unavailable":
        return f"Voicemail: {TRANSCRIPT_UNAVAILABLE}."
    return "Voicemail: transcript pending."


def message_for(call: dict[str, Any]) -> InboundMessage:
    """The call as the pipeline's `InboundMessage`: the transcript is the text that is screened."""
    meta = {
        key: call[key]
        for key in (
            "recording_url",
            "recording_sid",
            "recording_duration",
            "transcript_status",
            "transcript_engine",
            "menu_choice",
            "call_status",
        )
        if call.get(key) is not None
    }
    meta["withheld"] = bool(call["withheld"])
    return InboundMessage(
        channel=CHANNEL,
        provider_id=call["call_sid"],
        sender=call["sender"],
        recipient=call["recipient"],
        body=call["transcript"] or "",
        received_at=call["started_at"],
        meta=meta,
    )


def _max_urgency(*levels: str) -> str:
    return min(levels, key=lambda level: URGENCY_RANK.get(level, len(URGENCIES)))


def _sync(runtime: Runtime, call: dict[str, Any]) -> Referral | None:
    """Create or update the call's referral from its row (call under the call's lock)."""
    if call["outcome"] not in ("voicemail", "emergency"):
        return None
    store = runtime.store
    message = message_for(call)
    referral, created = pipeline.store_referral(runtime, message)
    assert referral.id is not None
    if not created:
        store.replace_message(message)
    fresh = pipeline.build_referral(message)
    screening = dict(fresh.screening)
    fields = dict(fresh.fields)
    urgency = _max_urgency(referral.urgency, fresh.urgency) if not created else fresh.urgency
    status = call["transcript_status"] or "none"
    if status == "unavailable":
        screening["needs_review"] = True
        screening["review_reason"] = TRANSCRIPT_UNAVAILABLE
        # Nobody knows what the message says until someone listens: not a routine wait.
        urgency = _max_urgency(urgency, "urgent")
    if call["menu_choice"] == MENU_DANGER:
        screening["menu_emergency"] = True
        urgency = "emergency"
    fields["voicemail"] = {
        "recording_url": call["recording_url"],
        "recording_duration": call["recording_duration"],
        "transcript_status": status,
        "transcript_engine": call["transcript_engine"],
        "menu_choice": call["menu_choice"],
        "withheld": bool(call["withheld"]),
        "note": _note(call),
    }
    values: dict[str, Any] = {
        "sender": call["sender"],  # a blank caller is filled in by a later event
        "raw_text": call["transcript"] or _note(call),
        "urgency": urgency,
        "safeguarding": sorted(set(referral.safeguarding) | set(fresh.safeguarding)),
        "screening": screening,
        "fields": fields,
        "safe_to_contact": fresh.safe_to_contact and (created or referral.safe_to_contact),
    }
    store.update_referral(referral.id, **values)
    if urgency != referral.urgency:
        store.audit(
            SYSTEM_ACTOR,
            "referral.rescreened",
            referral_id=referral.id,
            detail={"from": referral.urgency, "to": urgency, "transcript": status},
        )
    return store.get_referral_by_id(referral.id)


def _finish(runtime: Runtime, call_sid: str, *, updated: bool = False) -> str:
    """Forward and acknowledge once the referral says all it will (outside the lock).

    `updated`: the referral had already been handed on (an emergency from the menu, a flagged
    voicemail) and has just changed, so the case system gets an update too.
    """
    call = runtime.store.calls.get(call_sid)
    if call is None:
        return "no call"
    referral = runtime.store.find_referral_for_message(CHANNEL, call_sid)
    if referral is None:
        return "no referral"
    status = call["transcript_status"]
    settled = status in ("completed", "unavailable") or call["menu_choice"] == MENU_DANGER
    if settled:
        alerts.alert_emergency(runtime, referral)  # once per contact, only for emergencies
        forwarding.schedule(runtime, referral, "created")  # deduped on (reference, event)
        if updated:
            forwarding.schedule(runtime, referral, "updated")  # deduped on the content
    if status == "completed" or (
        status == "unavailable" and runtime.settings.voice_ack_without_transcript
    ):
        return pipeline.send_acknowledgement(runtime, referral, message_for(call))
    return "not yet"


# -- the events ------------------------------------------------------------------------------


def call_started(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    with _lock(runtime, event["CallSid"]):
        call = _call(runtime, event)
    return {"call": call["call_sid"], "outcome": call["outcome"]}


def menu_choice(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    call_sid = event["CallSid"]
    digits = str(event.get("Digits") or "")
    from channels.voice_twiml import MENU_DANGER_DIGIT, menu_enabled

    danger = digits == MENU_DANGER_DIGIT and menu_enabled(runtime.settings)
    with _lock(runtime, call_sid):
        call = _call(runtime, event)
        if danger:
            runtime.store.calls.update(call_sid, menu_choice=MENU_DANGER, outcome="emergency")
        elif call["menu_choice"] != MENU_DANGER:
            runtime.store.calls.update(call_sid, menu_choice=f"pressed {digits}"[:16])
        referral = _sync(runtime, _reload(runtime, call_sid))
    if referral is not None:
        runtime.store.audit(
            SYSTEM_ACTOR, "voice.menu_emergency", referral_id=referral.id, detail={"call": call_sid}
        )
    return {"call": call_sid, "emergency": danger, "finish": _finish(runtime, call_sid)}


def dial_finished(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    call_sid = event["CallSid"]
    referral = runtime.store.find_referral_for_message(CHANNEL, call_sid)
    dial_status = str(event.get("DialCallStatus") or "")
    runtime.store.audit(
        SYSTEM_ACTOR,
        "voice.on_call_dialled",
        referral_id=referral.id if referral else None,
        detail={"call": call_sid, "dial_status": dial_status},
    )
    return {"call": call_sid, "dial_status": dial_status}


def recording(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    call_sid = event["CallSid"]
    settings = runtime.settings
    duration = _int(event.get("RecordingDuration"))
    usable = (
        event.get("RecordingStatus", "completed") == "completed"
        and bool(event.get("RecordingUrl"))
        and (duration or 0) >= settings.voice_min_recording_seconds
    )
    first = False
    with _lock(runtime, call_sid):
        call = _call(runtime, event)
        if not usable:
            if call["outcome"] in ("in_progress", "missed") and not call["recording_url"]:
                runtime.store.calls.update(call_sid, outcome="missed", recording_duration=duration)
            return {"call": call_sid, "outcome": _reload(runtime, call_sid)["outcome"]}
        first = call["recording_url"] is None or call["recording_duration"] is None
        runtime.store.calls.update(
            call_sid,
            recording_url=event["RecordingUrl"],
            recording_sid=event.get("RecordingSid") or call["recording_sid"],
            recording_duration=duration,
            recording_at=call["recording_at"] or _received_at(event),
            transcript_status=call["transcript_status"] or "pending",
            outcome="emergency" if call["outcome"] == "emergency" else "voicemail",
        )
        call = _reload(runtime, call_sid)
        referral = _sync(runtime, call)
    if first and call["transcript_status"] == "pending":
        _schedule_transcription(runtime, call)
    if referral is not None:
        runtime.store.audit(
            SYSTEM_ACTOR, "voice.recording", referral_id=referral.id, detail={"duration": duration}
        )
    return {
        "call": call_sid,
        "outcome": call["outcome"],
        "reference": referral.reference if referral else None,
        "finish": _finish(runtime, call_sid),
    }


def _apply_transcript(
    runtime: Runtime, call_sid: str, transcript: Transcript, recording_url: str = ""
) -> dict[str, Any]:
    """Record a transcript (or its failure) and re-screen; a later success beats a failure."""
    with _lock(runtime, call_sid):
        call = _reload(runtime, call_sid)
        was_settled = call["transcript_status"] == "unavailable" or call["menu_choice"] == (
            MENU_DANGER
        )
        values: dict[str, Any] = {}
        if not call["recording_url"] and recording_url:
            values.update(recording_url=recording_url, recording_at=utcnow())
        if call["outcome"] in ("in_progress", "missed") and not _too_short(runtime, call):
            values["outcome"] = "voicemail"
        if transcript.ok:
            values.update(
                transcript=transcript.text.strip(),
                transcript_status="completed",
                transcript_engine=transcript.engine,
            )
        elif call["transcript_status"] != "completed":
            values.update(transcript_status="unavailable", transcript_engine=transcript.engine)
        if values:
            runtime.store.calls.update(call_sid, **values)
        call = _reload(runtime, call_sid)
        referral = _sync(runtime, call)
    if referral is not None:
        runtime.store.audit(
            SYSTEM_ACTOR,
            "voice.transcript",
            referral_id=referral.id,
            detail={"status": call["transcript_status"], "engine": transcript.engine},
        )
    return {
        "call": call_sid,
        "transcript": call["transcript_status"],
        "reference": referral.reference if referral else None,
        "urgency": referral.urgency if referral else None,
        "finish": _finish(runtime, call_sid, updated=was_settled and transcript.ok),
    }


def _too_short(runtime: Runtime, call: dict[str, Any]) -> bool:
    duration = call["recording_duration"]
    return duration is not None and duration < runtime.settings.voice_min_recording_seconds


def transcription(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    call_sid = event["CallSid"]
    with _lock(runtime, call_sid):
        _call(runtime, event)
    status = str(event.get("TranscriptionStatus") or "")
    text = str(event.get("TranscriptionText") or "")
    transcript = Transcript(
        "completed" if status == "completed" and text.strip() else "failed",
        text=text,
        engine="twilio",
        detail=status,
    )
    return _apply_transcript(runtime, call_sid, transcript, str(event.get("RecordingUrl") or ""))


def call_ended(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """Call status callback: a call that ends with no recording and no menu choice was missed."""
    call_sid = event["CallSid"]
    with _lock(runtime, call_sid):
        call = _call(runtime, event)
        values: dict[str, Any] = {
            "call_status": str(event.get("CallStatus") or "")[:24],
            "call_duration": _int(event.get("CallDuration")),
        }
        if call["outcome"] == "in_progress" and not call["recording_url"]:
            values["outcome"] = "missed"
        runtime.store.calls.update(call_sid, **values)
        call = _reload(runtime, call_sid)
    if call["outcome"] == "missed":
        log.info("missed call %s (%s)", call_sid, values["call_status"])
    return {"call": call_sid, "outcome": call["outcome"]}


HANDLERS: dict[str, Callable[[Runtime, dict[str, Any]], dict[str, Any]]] = {
    "call_started": call_started,
    "menu_choice": menu_choice,
    "dial_finished": dial_finished,
    "recording": recording,
    "transcription": transcription,
    "call_ended": call_ended,
}


def handle_event(runtime: Runtime, kind: str, event: dict[str, Any]) -> dict[str, Any]:
    try:
        handler = HANDLERS[kind]
    except KeyError:
        raise ValueError(f"unknown voice event {kind!r}") from None
    return handler(runtime, event)


# -- transcription that is not Twilio's, and transcripts that never come --------------------


def _schedule_transcription(runtime: Runtime, call: dict[str, Any]) -> None:
    """Start a local engine if one is configured; in any case, give up waiting after a while."""
    settings = runtime.settings
    call_sid = call["call_sid"]
    queue = Queue(queue_name(settings, "default"), connection=runtime.redis)
    try:
        if not engine_for(settings).twilio_transcribes:
            queue.enqueue(
                TRANSCRIBE_JOB,
                call_sid,
                job_id=safe_job_id(settings.queue_prefix, "voice-transcribe", call_sid),
                retry=INBOUND_RETRY,
                failure_ttl=365 * 24 * 3600,
                result_ttl=3600,
            )
        queue.enqueue_in(
            timedelta(seconds=settings.voice_transcript_timeout),
            TIMEOUT_JOB,
            call_sid,
            job_id=safe_job_id(settings.queue_prefix, "voice-timeout", call_sid),
            failure_ttl=365 * 24 * 3600,
            result_ttl=3600,
        )
    except RedisError:
        log.exception("could not schedule the transcript for %s", call_sid)
        raise


def transcript_timeout(
    runtime: Runtime, call_sid: str, now: datetime | None = None
) -> dict[str, Any]:
    """Flag a voicemail whose transcript has not come within `VOICE_TRANSCRIPT_TIMEOUT`.

    `now` is the clock (tests pass one); a run before the deadline changes nothing.
    """
    call = runtime.store.calls.get(call_sid)
    if call is None or call["transcript_status"] != "pending":
        return {"call": call_sid, "flagged": False}
    started = call["recording_at"] or call["started_at"]
    deadline = started + timedelta(seconds=runtime.settings.voice_transcript_timeout)
    if (now or utcnow()) < deadline:
        return {"call": call_sid, "flagged": False, "due": deadline.isoformat()}
    transcript = Transcript("failed", engine=call["transcript_engine"] or "", detail="timeout")
    log.warning("no transcript for %s in time: flagged for listening", call_sid)
    result = _apply_transcript(runtime, call_sid, transcript)
    return {**result, "flagged": result["transcript"] == "unavailable"}


def transcribe(runtime: Runtime, call_sid: str) -> dict[str, Any]:
    """Run the configured local engine on the call's recording (a job of its own)."""
    call = runtime.store.calls.get(call_sid)
    if call is None or not call["recording_url"] or call["transcript_status"] == "completed":
        return {"call": call_sid, "transcript": call["transcript_status"] if call else None}
    engine = engine_for(runtime.settings)
    transcript = engine.transcribe(
        runtime.settings,
        Recording(
            call_sid=call_sid,
            url=call["recording_url"],
            sid=call["recording_sid"] or "",
            duration=call["recording_duration"],
        ),
    )
    return _apply_transcript(runtime, call_sid, transcript)


def _reload(runtime: Runtime, call_sid: str) -> dict[str, Any]:
    call = runtime.store.calls.get(call_sid)
    assert call is not None
    return call
