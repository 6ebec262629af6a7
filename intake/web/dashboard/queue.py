"""Log-in, log-out and the queue: what a duty advocate sees first."""

from __future__ import annotations

import logging
import math
from typing import Any

from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake import sla
from intake.models import URGENCIES, utcnow
from intake.queue import SLA_CHECK, QueueUnavailable, enqueue
from intake.runtime import Runtime
from intake.store import STATUS_FILTERS, User
from intake.users import authenticate, wait_before_attempt
from intake.web import auth
from intake.web.dashboard import present
from intake.web.dashboard.incidents import notices as incident_notices
from intake.web.dashboard.render import page

log = logging.getLogger(__name__)

SLA_CHECK_EVERY = 60  # seconds: a dashboard being open is what keeps the on-call check running


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def login_form(request: Request) -> Response:
    if await auth.current_user(request):
        return RedirectResponse("/", 303)
    return page(
        request,
        "login.html",
        {"error": "", "email": "", "next": request.query_params.get("next", "/")},
    )


def _refused(
    request: Request, error: str, email: str, target: str, status: int, wait: float = 0
) -> Response:
    context = {"error": error, "email": email, "next": target}
    response = page(request, "login.html", context, status)
    if wait:
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _wait_text(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 120:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    return f"{math.ceil(seconds / 60)} minutes"


async def login(request: Request) -> Response:
    form = await request.form()
    target = auth.safe_next(form.get("next"))
    if not auth.csrf_ok(request, form):
        return page(
            request,
            "login.html",
            {"error": "The form had expired. Please try again.", "email": "", "next": target},
            403,
        )
    email = str(form.get("email") or "")[:320]
    password = str(form.get("password") or "")
    runtime = _runtime(request)
    client = auth.client_address(request)
    device = auth.device_token(request, email)
    # Refuse a throttled client before it queues for the password check at all.
    wait, why = await run_in_threadpool(
        wait_before_attempt, runtime.settings, runtime.store, email.strip().lower(), client, device
    )
    if wait <= 0:
        try:
            async with request.app.state.hash_gate.slot():
                result = await run_in_threadpool(
                    authenticate, runtime.settings, runtime.store, email, password, client, device
                )
        except auth.Busy:
            log.warning("log-in refused with 503: too many password checks waiting")
            return _refused(
                request, "The service is busy. Please try again in a moment.", email, target, 503, 2
            )
        wait, why = result.wait, result.why
        if result.ok:
            assert result.user is not None
            await run_in_threadpool(auth.log_in, request, result.user)
            await run_in_threadpool(
                runtime.store.audit, result.user.email, "login", detail={"client": client}
            )
            response = RedirectResponse(target, 303)
            auth.set_device_cookie(request, response, result.user.email)
            return response
        await run_in_threadpool(
            runtime.store.audit,
            email.strip().lower() or "(blank)",
            "login.locked" if wait else "login.failed",
            detail={"client": client, **({"throttled": why} if wait else {})},
        )
    elif why == "client":
        log.info("log-in refused: too many failures from one client address")
    if wait:
        message = (
            "Too many failed log-ins from this network."
            if why == "client"
            else "Too many failed attempts for this account."
        ) + f" Please try again in {_wait_text(wait)}."
        return _refused(request, message, email, target, 429, wait)
    return _refused(
        request, "That email and password do not match an account.", email, target, 401
    )


async def logout(request: Request) -> Response:
    form = await request.form()
    user = await auth.current_user(request)
    if user is not None:
        if not auth.csrf_ok(request, form):
            raise HTTPException(403, "This form has expired or did not come from this site.")
        await run_in_threadpool(_runtime(request).store.audit, user.email, "logout")
    await run_in_threadpool(auth.log_out, request)
    return RedirectResponse("/login", 303)


def _filters(request: Request) -> dict[str, str]:
    params = request.query_params
    status = params.get("status") or "active"
    channel = params.get("channel", "")
    return {
        "status": status if status in STATUS_FILTERS else "active",
        "urgency": params.get("urgency", "") if params.get("urgency") in URGENCIES else "",
        "channel": channel if channel in _runtime(request).channels else "",
        "category": (params.get("category") or "")[:64],
        "q": (params.get("q") or "")[:120],
    }


def queue_rows(runtime: Runtime, filters: dict[str, str]) -> list[dict[str, Any]]:
    found = runtime.store.worklist.queue(
        status=filters["status"],
        urgency=filters["urgency"] or None,
        channel=filters["channel"] or None,
        category=filters["category"] or None,
        search=filters["q"] or None,
    )
    now = utcnow()
    policy = sla.Policy.from_settings(runtime.settings)
    rows = []
    for item in found:
        r = item.referral
        rows.append(
            {
                "reference": r.reference,
                "channel": r.channel,
                "received_at": r.received_at,
                "age": present.age(r.received_at, now),
                "urgency": r.urgency,
                "safeguarding": r.safeguarding,
                "summary": present.summary(r.raw_text),
                "claimed_by": item.claimed_by,
                "status": r.status,
                "timer": sla.timer(r.received_at, r.urgency, r.status, now, policy),
            }
        )
    return rows


def _maybe_check_sla(runtime: Runtime) -> None:
    """Enqueue the on-call check at most once a minute across all open dashboards."""
    if not runtime.settings.oncall_manager_contact:
        return
    key = f"{runtime.settings.queue_prefix}:sla-check-lock"
    try:
        if runtime.redis.set(key, "1", nx=True, ex=SLA_CHECK_EVERY):
            enqueue(runtime.settings, runtime.redis, SLA_CHECK, priority="high")
    except (QueueUnavailable, RedisError, OSError):
        pass  # the queue page must still load when Redis is down


@auth.require("advocate")
async def queue_page(request: Request, user: User) -> Response:
    runtime = _runtime(request)
    filters = _filters(request)

    def load() -> dict[str, Any]:
        rows = queue_rows(runtime, filters)
        runtime.store.audit(
            user.email,
            "queue.viewed",
            detail={k: v for k, v in filters.items() if v} | {"count": len(rows)},
        )
        _maybe_check_sla(runtime)
        return {
            "rows": rows,
            "categories": runtime.store.worklist.categories_in_use(),
            "incidents": incident_notices(runtime),
        }

    data = await run_in_threadpool(load)
    return page(
        request,
        "queue.html",
        {
            "user": user,
            "filters": filters,
            "urgencies": URGENCIES,
            "channels": runtime.channels.names(),
            "statuses": STATUS_FILTERS,
            **data,
        },
    )


@auth.require("advocate")
async def queue_fragment(request: Request, user: User) -> Response:
    """The table body alone, for the page's polling script: new referrals without a reload."""
    runtime = _runtime(request)
    filters = _filters(request)

    def load() -> list[dict[str, Any]]:
        _maybe_check_sla(runtime)
        return queue_rows(runtime, filters)

    rows = await run_in_threadpool(load)
    return page(request, "_rows.html", {"rows": rows, "user": user})
