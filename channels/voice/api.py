"""The missed-call list: callers who hung up before leaving a message, for someone to ring back.

Behind the same bearer token as the rest of `/api/*`, and audited like every read of personal data.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from intake.runtime import Runtime
from intake.web.api import API_ACTOR, MAX_LIMIT, authorised, int_param, unauthorised


def missed_call_view(call: dict[str, Any], min_seconds: int) -> dict[str, Any]:
    """One missed call as the API shows it (pure)."""
    duration = call["recording_duration"]
    short = duration is not None and duration < min_seconds
    return {
        "id": call["id"],
        "call_sid": call["call_sid"],
        "caller": None if call["withheld"] else call["sender"] or None,
        "withheld": bool(call["withheld"]),
        "started_at": call["started_at"].isoformat(),
        "call_status": call["call_status"],
        "reason": "recording too short" if short else "hung up without leaving a message",
        "called_back_at": call["called_back_at"].isoformat() if call["called_back_at"] else None,
        "called_back_by": call["called_back_by"],
    }


async def list_missed_calls(request: Request) -> JSONResponse:
    if not authorised(request):
        return unauthorised()
    params = request.query_params
    limit = int_param(params.get("limit"), 50, 1, MAX_LIMIT)
    offset = int_param(params.get("offset"), 0, 0, 10**9)
    include = params.get("include_called_back", "").lower() in {"1", "true", "yes"}

    def load(runtime: Runtime) -> list[dict[str, Any]]:
        calls = runtime.store.calls.missed(include_called_back=include, limit=limit, offset=offset)
        runtime.store.audit(API_ACTOR, "missed_calls.listed", detail={"count": len(calls)})
        minimum = runtime.settings.voice_min_recording_seconds
        return [missed_call_view(call, minimum) for call in calls]

    items = await run_in_threadpool(load, request.app.state.runtime)
    return JSONResponse({"missed_calls": items, "limit": limit, "offset": offset})


async def mark_called_back(request: Request) -> JSONResponse:
    if not authorised(request):
        return unauthorised()
    try:
        call_id = int(request.path_params["call_id"])
    except ValueError:
        call_id = 0
    if not 0 < call_id < 2**63:  # ids are positive 64-bit integers; anything else names nothing
        return JSONResponse({"error": "no such missed call"}, status_code=404)

    def mark(runtime: Runtime) -> bool:
        done = runtime.store.calls.mark_called_back(call_id, API_ACTOR)
        if done:
            runtime.store.audit(API_ACTOR, "missed_call.called_back", detail={"id": call_id})
        return done

    if not await run_in_threadpool(mark, request.app.state.runtime):
        return JSONResponse({"error": "no such missed call"}, status_code=404)
    return JSONResponse({"id": call_id, "called_back": True})


routes = [
    Route("/api/missed-calls", list_missed_calls, methods=["GET"]),
    Route("/api/missed-calls/{call_id}/called-back", mark_called_back, methods=["POST"]),
]
