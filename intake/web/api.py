"""The JSON API for other systems: read referrals, behind a bearer token.

Every read of a referral is audited, as every view in the dashboard is: referrals are
special-category personal data and a service must be able to say who looked at what. Nothing
under `/api/` may be kept by a browser or a proxy cache (`NoStore`), refusals included.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake.models import URGENCIES
from intake.runtime import Runtime

API_ACTOR = "api"
MAX_LIMIT = 200
API_PREFIX = "/api/"
# RFC 9111 section 5.2.2.5: no cache may store any part of the request or the response.
NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


class NoStore:
    """ASGI middleware: every response under `/api/` says `Cache-Control: no-store`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return

        async def no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in (b"cache-control", b"pragma")
                ]
                message = {**message, "headers": [*kept, *NO_STORE]}
            await send(message)

        await self.app(scope, receive, no_store)


def authorised(request: Request) -> bool:
    token = request.app.state.runtime.settings.api_token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def unauthorised() -> JSONResponse:
    return JSONResponse(
        {"error": "a valid bearer token is required"},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="intake"'},
    )


def int_param(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value))) if value is not None else default
    except ValueError:
        return default


async def list_referrals(request: Request) -> JSONResponse:
    if not authorised(request):
        return unauthorised()
    params = request.query_params
    urgency = params.get("urgency")
    if urgency and urgency not in URGENCIES:
        return JSONResponse({"error": f"urgency must be one of {', '.join(URGENCIES)}"}, 400)
    limit = int_param(params.get("limit"), 50, 1, MAX_LIMIT)
    offset = int_param(params.get("offset"), 0, 0, 10**9)
    after = params.get("after") or None

    def load(runtime: Runtime) -> tuple[list[dict[str, Any]], str | None]:
        store = runtime.store
        found = store.list_referrals(
            status=params.get("status"),
            urgency=urgency,
            channel=params.get("channel"),
            limit=limit,
            offset=offset,
            after=after,
        )
        store.audit(
            API_ACTOR, "referrals.listed", detail={"count": len(found), "query": dict(params)}
        )
        following = store.list_cursor(found[-1]) if len(found) == limit else None
        return [referral.to_dict() for referral in found], following

    try:
        items, following = await run_in_threadpool(load, request.app.state.runtime)
    except ValueError:
        return JSONResponse({"error": "after must be the next cursor of a previous page"}, 400)
    return JSONResponse(
        {"referrals": items, "limit": limit, "offset": offset, "next": following}
    )


async def get_referral(request: Request) -> JSONResponse:
    if not authorised(request):
        return unauthorised()
    reference = request.path_params["reference"]

    def load(runtime: Runtime) -> dict[str, Any] | None:
        referral = runtime.store.get_referral(reference)
        if referral is None or referral.id is None:
            return None
        runtime.store.audit(API_ACTOR, "referral.viewed", referral_id=referral.id)
        data = referral.to_dict()
        data["messages"] = [
            {
                "channel": m["channel"],
                "sender": m["sender"],
                "received_at": m["received_at"].isoformat(),
                "body": m["body"],
                "meta": m["meta"],
            }
            for m in runtime.store.messages_for(referral.id)
        ]
        data["outbound"] = [
            {
                "kind": o["kind"],
                "channel": o["channel"],
                "status": o["status"],
                "created_at": o["created_at"].isoformat(),
            }
            for o in runtime.store.outbound_for(referral.id)
        ]
        return data

    data = await run_in_threadpool(load, request.app.state.runtime)
    if data is None:
        return JSONResponse({"error": "no such referral"}, status_code=404)
    return JSONResponse(data)


routes = [
    Route("/api/referrals", list_referrals, methods=["GET"]),
    Route("/api/referrals/{reference}", get_referral, methods=["GET"]),
]
