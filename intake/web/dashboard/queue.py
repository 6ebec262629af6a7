"""Log-in, log-out and the queue: what a duty advocate sees first.

The queue is one page of `store.worklist.queue` (working order, paging with counts), filtered by
urgency, category, channel, status, "my referrals" and a search of what people wrote. Searches
are audited (`referrals.searched`, with the query's blind-index terms, never its text, and the
number found) like every other read; the page's own refreshes are not. `/queue/state` is what
keeps every open dashboard tab live: counts and the references of emergencies that need a person,
never message text.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from intake import precheck, sla, triage
from intake.models import URGENCIES, utcnow
from intake.privacy import masking
from intake.queue import SLA_CHECK, QueueUnavailable, enqueue
from intake.runtime import Runtime
from intake.screening.lexicon import CATEGORIES
from intake.store import STATUS_FILTERS, QueueFilter, QueuePage, User
from intake.users import authenticate, wait_before_attempt
from intake.web import auth
from intake.web.dashboard import present, second_factor
from intake.web.dashboard.incidents import notices as incident_notices
from intake.web.dashboard.render import page

log = logging.getLogger(__name__)

SLA_CHECK_EVERY = 60  # seconds: a dashboard being open is what keeps the on-call check running
PAGE_SIZE = 200
FILTER_KEYS = ("q", "urgency", "category", "channel", "status", "mine", "unclaimed")


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
            if result.user.totp:
                # the password was right: now the code (intake.web.dashboard.second_factor)
                return second_factor.ask_for_code(request, result.user, target)
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
            else "Too many failed attempts for this account. A manager or admin can unlock it."
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
    category = (params.get("category") or "")[:64]
    return {
        "status": status if status in STATUS_FILTERS else "active",
        "urgency": params.get("urgency", "") if params.get("urgency") in URGENCIES else "",
        "channel": channel if channel in _runtime(request).channels else "",
        "category": category if category in CATEGORIES else "",
        "q": (params.get("q") or "").strip()[:120],
        "mine": "1" if params.get("mine") == "1" else "",
        "unclaimed": "1" if params.get("unclaimed") == "1" else "",
    }


def _page_number(request: Request) -> int:
    try:
        return max(1, min(int(request.query_params.get("page") or 1), 10_000))
    except ValueError:
        return 1


def filter_query(filters: dict[str, str]) -> str:
    """The query string of a filter, without defaults: what a saved filter keeps."""
    kept = {k: v for k, v in filters.items() if v and not (k == "status" and v == "active")}
    return urlencode(kept)


def _queue_filter(filters: dict[str, str], user: User) -> QueueFilter:
    return QueueFilter(
        status=filters["status"],
        urgency=filters["urgency"] or None,
        channel=filters["channel"] or None,
        category=filters["category"] or None,
        search=filters["q"] or None,
        claimed_by=user.email if filters["mine"] else None,
        unclaimed=bool(filters["unclaimed"]),
    )


def load_queue(
    runtime: Runtime, filters: dict[str, str], user: User, page_number: int = 1
) -> tuple[QueuePage, list[dict[str, Any]]]:
    now = utcnow()
    zone = runtime.settings.intake_timezone
    today = now.astimezone(ZoneInfo(zone)).date()
    days = runtime.settings.deadline_urgent_days
    rules = precheck.load(runtime.settings.eligibility_rules)
    found = runtime.store.worklist.queue(
        _queue_filter(filters, user),
        offset=(page_number - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        today=today,
        deadline_days=days,
    )
    policy = sla.Policy.from_settings(runtime.settings)
    rows = []
    for item in found.rows:
        r = item.referral
        if masking.hides(user.role, item.claimed_by, user.email):
            names = masking.surnames(r.fields)
            r = dataclasses.replace(
                r, raw_text=masking.text(r.raw_text, names), fields=masking.fields(r.fields)
            )
        timer = sla.timer(r.received_at, r.urgency, r.status, now, policy)
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
                "needs_action": item.needs_action,
                "new_message_at": r.new_message_at,
                "safe_to_contact": r.safe_to_contact,
                "facts": present.key_facts(r.fields),
                "needs": present.communication_needs(
                    runtime.settings.templates_dir, r.fields, r.language
                ),
                "timer": timer,
                "timer_text": timer.describe(zone, now) if timer else "",
                "due_text": timer.due_label(zone, now) if timer else "",
                "outcome": item.outcome,
                "deadline": present.deadline_note(r.fields, r.urgency, today, days),
                "precheck": [f.id for f in precheck.findings(r.fields, rules)],
            }
        )
    return found, rows


def counts_line(found: QueuePage, filters: dict[str, str]) -> str:
    """"200 of 1,312 open or triaged; 14 emergencies, 3 needing action" (what paging hides
    is always said)."""
    scope = {
        "active": "open or triaged",
        "open": "open",
        "triaged": "triaged",
        "closed": "closed",
        "all": "in all",
    }[filters["status"]]
    narrowed = any(filters[k] for k in ("q", "urgency", "category", "channel", "mine", "unclaimed"))
    shown = len(found.rows)
    if found.total == 0:
        head = f"No referrals {scope}{' match this filter' if narrowed else ''}"
    elif shown == found.total:
        head = f"{found.total:,} {scope}"
    else:
        first = found.offset + 1
        head = f"{first:,}–{found.offset + shown:,} of {found.total:,} {scope}"
    if narrowed and found.total:
        head += " matching this filter"
    parts = []
    for urgency in URGENCIES:
        count = found.by_urgency.get(urgency, 0)
        if count:
            word = "emergencies" if urgency == "emergency" and count != 1 else urgency
            action = found.needing_action.get(urgency, 0)
            needs = "needs" if action == 1 else "need"
            parts.append(f"{count:,} {word}" + (f" ({action:,} {needs} action)" if action else ""))
    return head + ("; " + ", ".join(parts) if parts else "") + "."


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


def _colleagues(runtime: Runtime) -> list[str]:
    return [u.email for u in runtime.store.users.all() if u.active]


@auth.require("volunteer")
async def queue_page(request: Request, user: User) -> Response:
    runtime = _runtime(request)
    filters = _filters(request)
    number = _page_number(request)

    def load() -> dict[str, Any]:
        found, rows = load_queue(runtime, filters, user, number)
        # A search holds names and numbers: the audit keeps its blind-index terms, not the text.
        detail = {k: v for k, v in filters.items() if v and k != "q"}
        detail |= {"count": found.total, "page": number}
        runtime.store.audit(user.email, "queue.viewed", detail=detail)
        if filters["q"]:
            terms = runtime.store.search_digest(filters["q"])
            runtime.store.audit(
                user.email, "referrals.searched", detail={"terms": terms, "found": found.total}
            )
        _maybe_check_sla(runtime)
        return {
            "rows": rows,
            "found": found,
            "counts": counts_line(found, filters),
            "saved": runtime.store.desk.filters(user.email),
            "colleagues": _colleagues(runtime),
            "incidents": incident_notices(runtime),
        }

    data = await run_in_threadpool(load)
    query = filter_query(filters)
    found: QueuePage = data["found"]
    return page(
        request,
        "queue.html",
        {
            "user": user,
            "filters": filters,
            "filter_query": query,
            "urgencies": URGENCIES,
            "categories": CATEGORIES,
            "channels": runtime.channels.names(),
            "statuses": STATUS_FILTERS,
            "outcomes": triage.OUTCOMES,
            "page_number": number,
            "previous_page": number - 1 if number > 1 else None,
            "next_page": number + 1 if found.has_more else None,
            "flash": request.session.pop("flash", None),
            **data,
        },
    )


@auth.require("volunteer")
async def queue_fragment(request: Request, user: User) -> Response:
    """The table body and the counts, for the page's live refresh: no reload needed."""
    runtime = _runtime(request)
    filters = _filters(request)
    number = _page_number(request)

    def load() -> dict[str, Any]:
        _maybe_check_sla(runtime)
        found, rows = load_queue(runtime, filters, user, number)
        return {"rows": rows, "counts": counts_line(found, filters)}

    data = await run_in_threadpool(load)
    return page(request, "_rows.html", {"user": user, **data})


def queue_state(runtime: Runtime, user: User) -> dict[str, Any]:
    """What every open dashboard tab needs to stay live (no message text, ever)."""
    store = runtime.store
    urgent_ones = store.worklist.needing_action("emergency")
    totals = store.worklist.queue(QueueFilter(), limit=1)
    emergencies = [
        {
            "reference": row.referral.reference,
            "new_message": row.referral.new_message_at is not None,
            "marker": (row.referral.new_message_at or row.referral.received_at).isoformat(),
        }
        for row in urgent_ones
    ]
    signature = "|".join(
        [
            str(totals.total),
            *(f"{u}:{totals.by_urgency[u]}:{totals.needing_action[u]}" for u in URGENCIES),
            *(f"{e['reference']}@{e['marker']}" for e in emergencies),
        ]
    )
    return {
        "emergencies": emergencies,
        "needing_action": totals.needing_action,
        "open": totals.total,
        "notices": store.desk.unread_count(user.email),
        "signature": signature,
    }


@auth.require("volunteer")
async def state(request: Request, user: User) -> Response:
    runtime = _runtime(request)

    def load() -> dict[str, Any]:
        _maybe_check_sla(runtime)
        return queue_state(runtime, user)

    data = await run_in_threadpool(load)
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


@auth.require("advocate")
async def bulk(request: Request, user: User) -> Response:
    form = await auth.checked_form(request)
    runtime = _runtime(request)
    references = [str(v) for v in form.getlist("ref")]
    back = auth.safe_next(form.get("back") or "/")

    def act() -> str:
        try:
            return triage.bulk(
                runtime,
                references,
                user.email,
                str(form.get("action") or ""),
                outcome=str(form.get("outcome") or ""),
                to=str(form.get("to") or ""),
            )
        except triage.ActionRefused as exc:
            return str(exc)

    request.session["flash"] = await run_in_threadpool(act)
    return RedirectResponse(back, 303)


@auth.require("advocate")
async def save_filter(request: Request, user: User) -> Response:
    form = await auth.checked_form(request)
    runtime = _runtime(request)
    name = " ".join(str(form.get("name") or "").split())[:80]
    query = str(form.get("query") or "")[:1000]
    if not name:
        request.session["flash"] = "Give the filter a name."
        return RedirectResponse("/?" + query, 303)

    def save() -> str:
        try:
            runtime.store.desk.save_filter(user.email, name, query)
        except ValueError as exc:
            return str(exc)
        runtime.store.audit(user.email, "filter.saved", detail={"name": name})
        return f"Filter “{name}” saved."

    request.session["flash"] = await run_in_threadpool(save)
    return RedirectResponse("/?" + query, 303)


@auth.require("advocate")
async def delete_filter(request: Request, user: User) -> Response:
    await auth.checked_form(request)
    runtime = _runtime(request)
    filter_id = request.path_params["filter_id"]
    done = await run_in_threadpool(runtime.store.desk.delete_filter, user.email, filter_id)
    request.session["flash"] = "Filter deleted." if done else "No such filter."
    return RedirectResponse("/", 303)


@auth.require("volunteer")
async def notices_page(request: Request, user: User) -> Response:
    runtime = _runtime(request)

    def load() -> list[dict[str, Any]]:
        found = runtime.store.desk.notices(user.email)
        runtime.store.desk.mark_read(user.email)
        return found

    found = await run_in_threadpool(load)
    return page(request, "notices.html", {"user": user, "notices": found})

