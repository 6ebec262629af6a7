"""Log-in, log-out and the queue: what a duty advocate sees first."""

from __future__ import annotations

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
from intake.users import authenticate
from intake.web import auth
from intake.web.dashboard import present
from intake.web.dashboard.render import page

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
    client = request.client.host if request.client else ""
    result = await run_in_threadpool(
        authenticate, runtime.settings, runtime.store, email, password, client
    )
    if not result.ok:
        await run_in_threadpool(
            runtime.store.audit,
            email.strip().lower() or "(blank)",
            "login.locked" if result.locked else "login.failed",
            detail={"client": client},
        )
        message = (
            "Too many failed attempts: this account is locked for "
            f"{runtime.settings.login_lockout_minutes} minutes."
            if result.locked
            else "That email and password do not match an account."
        )
        return page(request, "login.html", {"error": message, "email": email, "next": target}, 401)
    assert result.user is not None
    auth.log_in(request, result.user)
    await run_in_threadpool(
        runtime.store.audit, result.user.email, "login", detail={"client": client}
    )
    return RedirectResponse(target, 303)


async def logout(request: Request) -> Response:
    form = await request.form()
    user = await auth.current_user(request)
    if user is not None:
        if not auth.csrf_ok(request, form):
            raise HTTPException(403, "This form has expired or did not come from this site.")
        await run_in_threadpool(_runtime(request).store.audit, user.email, "logout")
    auth.log_out(request)
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
