"""The second factor in the dashboard: the code after the password, and setting it up.

`/login/code` takes a code from the authenticator app or a recovery code after a right password
(`intake.users.second_factor`: throttled and recorded as a log-in). `/account/totp` sets the
factor up: the secret to type or paste into an app (and its `otpauth://` link), then a first
code, then the recovery codes, shown once. With `INTAKE_REQUIRE_TOTP` on, every other page sends
a signed-in person without a factor here first (`intake.web.auth.require`). Codes may be pasted
or filled in by a password manager (WCAG 2.2 3.3.8, accessible authentication).
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake import users
from intake.runtime import Runtime
from intake.store import User
from intake.web import auth
from intake.web.dashboard.render import page

PENDING = "pending_second_factor"
PENDING_FOR = 300  # seconds between a right password and its code


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def ask_for_code(request: Request, user: User, target: str) -> Response:
    """After a right password: remember who, for a few minutes, and ask for the code."""
    request.session.clear()
    request.session[PENDING] = {"email": user.email, "at": time.time(), "next": target}
    return RedirectResponse("/login/code", 303)


def _pending(request: Request) -> dict[str, object] | None:
    found = request.session.get(PENDING)
    if not isinstance(found, dict) or time.time() - float(found.get("at", 0)) > PENDING_FOR:
        return None
    return found


async def code_form(request: Request) -> Response:
    if _pending(request) is None:
        return RedirectResponse("/login", 303)
    return page(request, "login_code.html", {"error": ""})


async def code(request: Request) -> Response:
    form = await request.form()
    pending = _pending(request)
    if pending is None or not auth.csrf_ok(request, form):
        request.session.pop(PENDING, None)
        return RedirectResponse("/login", 303)
    runtime = _runtime(request)
    email = str(pending["email"])
    client = auth.client_address(request)
    device = auth.device_token(request, email)
    result = await run_in_threadpool(
        users.second_factor,
        runtime.settings,
        runtime.store,
        email,
        str(form.get("code") or "")[:64],
        client,
        device,
    )
    if not result.ok:
        await run_in_threadpool(
            runtime.store.audit,
            email,
            "login.locked" if result.wait else "login.code_failed",
            detail={"client": client},
        )
        if result.wait:
            request.session.pop(PENDING, None)
            error = "Too many failed attempts. Please log in again later."
            return page(request, "login_code.html", {"error": error}, 429)
        error = "That code is not right. Use the newest code from your app, or a recovery code."
        return page(request, "login_code.html", {"error": error}, 401)
    assert result.user is not None
    target = auth.safe_next(pending.get("next"))
    await run_in_threadpool(auth.log_in, request, result.user)
    await run_in_threadpool(
        runtime.store.audit, result.user.email, "login", detail={"client": client, "factor": 2}
    )
    response = RedirectResponse(target, 303)
    auth.set_device_cookie(request, response, result.user.email)
    return response


@auth.require("volunteer", enrolling=True)
async def setup_page(request: Request, user: User) -> Response:
    runtime = _runtime(request)
    if user.totp:
        return page(request, "totp.html", {"user": user, "done": True, "codes": None})
    secret, uri = await run_in_threadpool(
        users.totp_begin, runtime.settings, runtime.store, user.email
    )
    context = {"user": user, "done": False, "codes": None, "secret": secret, "uri": uri}
    return page(request, "totp.html", {**context, "error": ""})


@auth.require("volunteer", enrolling=True)
async def setup(request: Request, user: User) -> Response:
    form = await auth.checked_form(request)
    runtime = _runtime(request)
    try:
        codes = await run_in_threadpool(
            users.totp_confirm, runtime.store, user.email, str(form.get("code") or "")[:16]
        )
    except ValueError as exc:
        secret, uri = await run_in_threadpool(
            users.totp_begin, runtime.settings, runtime.store, user.email
        )
        context = {"user": user, "done": False, "codes": None, "secret": secret, "uri": uri}
        return page(request, "totp.html", {**context, "error": str(exc)}, 400)
    return page(request, "totp.html", {"user": user, "done": True, "codes": codes})
