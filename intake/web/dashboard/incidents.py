"""Flood incidents (`intake.flood`): the notice on the queue, and one page per incident.

A burst of referrals from senders with no history is shown as one thing to look at, so a duty
advocate sees at once that 205 "emergencies" arrived in a second from nobody they know, and can
still find the real one among or beside them. Nothing is hidden from the queue.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake import triage
from intake.models import utcnow
from intake.runtime import Runtime
from intake.store import User
from intake.web import auth
from intake.web.dashboard.render import page

SHOWN_FOR = timedelta(hours=24)  # an incident is noticed on the queue this long after its last


def notices(runtime: Runtime) -> list[dict[str, Any]]:
    """Open incidents with a referral in the last day, for the queue page's notice."""
    return runtime.store.incidents.recent(utcnow() - SHOWN_FOR)


@auth.require("advocate")
async def incident_page(request: Request, user: User) -> Response:
    runtime: Runtime = request.app.state.runtime
    incident_id = int(request.path_params["incident_id"])

    def load() -> dict[str, Any]:
        incident = runtime.store.incidents.get(incident_id)
        if incident is None:
            raise HTTPException(404, "No such incident.")
        runtime.store.audit(user.email, "incident.viewed", detail={"incident": incident_id})
        return {"incident": incident, "referrals": runtime.store.incidents.references(incident_id)}

    data = await run_in_threadpool(load)
    return page(
        request,
        "incident.html",
        {"user": user, "flash": request.session.pop("flash", None), **data},
    )


@auth.require("advocate")
async def close_incident(request: Request, user: User) -> Response:
    await auth.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    incident_id = int(request.path_params["incident_id"])
    try:
        said = await run_in_threadpool(triage.close_incident, runtime, incident_id, user.email)
    except triage.ActionRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    request.session["flash"] = said
    return RedirectResponse(f"/incidents/{incident_id}", 303)
