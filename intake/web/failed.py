"""`GET /api/failed`: referral events that could not be delivered to the case system.

Bearer-token protected like the rest of the JSON API. Each item says what failed, where and why,
and whether RQ still holds the job in its failed registry (`intake replay` resends either way).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from intake import forwarding
from intake.runtime import Runtime
from intake.web.api import API_ACTOR, authorised, unauthorised


async def list_failed(request: Request) -> JSONResponse:
    if not authorised(request):
        return unauthorised()

    def load(runtime: Runtime) -> list[dict[str, Any]]:
        items = forwarding.failed(runtime.store)
        held = forwarding.in_failed_registry(runtime)
        for item in items:
            item["in_failed_registry"] = item["job_id"] in held
        runtime.store.audit(API_ACTOR, "forward_failures.listed", detail={"count": len(items)})
        return items

    items = await run_in_threadpool(load, request.app.state.runtime)
    return JSONResponse({"failed": items, "count": len(items)})


routes = [Route("/api/failed", list_failed, methods=["GET"])]
