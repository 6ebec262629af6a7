"""The RQ jobs: every function a worker runs, by the names `intake.queue` queues them under.

This module is one of the composition roots (with `intake/cli.py` and `worker.py`): it may import
`channels/`, and builds the process's runtime with them when a worker did not install one. Jobs
take plain data (JSON-able dicts and strings), so a worker can read what any version of the web
process queued; the functions under "Names of earlier releases" keep jobs queued before this
layout (and kept a year in RQ's failed registry) working.
"""

from __future__ import annotations

from typing import Any

import channels
from intake import alerts, forwarding, pipeline, queue, sla
from intake import runtime as runtime_module
from intake.config import load_settings
from intake.runtime import Runtime


def _runtime() -> Runtime:
    found = runtime_module.installed()
    if found is None:
        found = Runtime.build(load_settings(), channels.registry())
        runtime_module.install(found)
    return found


def receive(channel: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One inbound message on any channel, as its door queued it (`intake.pipeline.receive`)."""
    return pipeline.receive(_runtime(), channel, payload).to_dict()


def receive_failed(job: Any, connection: Any, exc_type: Any, exc: Any, traceback: Any) -> None:
    """RQ's failure callback for `receive`: fail safe.

    When the job ran out of time, or failed for the last time, the message is stored as it came,
    unscreened, urgent and flagged for a person (`intake.pipeline.store_unprocessed`), so it is
    never lost; a job that ran out of time is not retried (the same input would again).
    Other failures (a database or Redis down) are left to the job's retries.
    """
    out_of_time = queue.timed_out(exc_type)
    if not out_of_time and job.retries_left:
        return
    channel, payload = job.args[0], job.args[1]
    reason = "it took longer than its time" if out_of_time else f"it failed ({exc_type.__name__})"
    pipeline.store_unprocessed(_runtime(), str(channel), payload, reason)
    if out_of_time:
        job.retries_left = 0


def forward_referral(reference: str, event_id: str) -> dict[str, Any]:
    """One attempt to deliver one referral event to the case system (`intake.forwarding`)."""
    return forwarding.deliver(_runtime(), reference, event_id)


def alert_emergency(reference: str, occasion: str) -> list[str]:
    """Tell on-call about a referral an advocate raised to emergency (`intake.triage`)."""
    rt = _runtime()
    referral = rt.store.get_referral(reference)
    if referral is None:
        return []
    return alerts.alert_emergency(rt, referral, why="raised", occasion=occasion)


def alert_digest(digest_id: str) -> list[str]:
    """Send on-call the emergency alerts held back in a flood, as one notice (`intake.alerts`)."""
    return alerts.send_digest(_runtime(), digest_id)


def voice_transcribe(call_sid: str) -> dict[str, Any]:
    """Run the local transcription engine (`VOICE_TRANSCRIPTION=command`) on a recording."""
    from channels.voice import calls

    return calls.transcribe(_runtime(), call_sid)


def voice_transcript_timeout(call_sid: str) -> dict[str, Any]:
    """Delayed job: flag a voicemail whose transcript never came."""
    from channels.voice import calls

    return calls.transcript_timeout(_runtime(), call_sid)


def read_attachments(channel: str, provider_id: str) -> dict[str, Any]:
    """Read a stored message's files in the sandbox and revise it (`intake.documents.job`)."""
    from intake.documents import job

    return job.read_attachments(_runtime(), channel, provider_id)


def sla_check() -> list[str]:
    """Alert the on-call manager about overdue, unclaimed emergencies (`intake.sla`)."""
    return sla.check_overdue(_runtime())


# -- Names of earlier releases -----------------------------------------------------------------


def process_inbound(payload: dict[str, Any]) -> dict[str, Any]:
    """An SMS queued before `receive` (its payload is the `InboundMessage`)."""
    return receive(str(payload.get("channel") or "sms"), payload)


def process_email(payload: dict[str, Any]) -> dict[str, Any]:
    """Raw mail queued by the SMTP server before `receive`."""
    return receive("email", payload)


def process_voice_event(kind: str, event: dict[str, Any]) -> dict[str, Any]:
    """A Twilio Voice callback queued before `receive`."""
    return receive("voice", {"kind": kind, "event": event})
