"""Dashboard sessions, CSRF tokens and roles.

Sessions are Starlette's signed cookie (itsdangerous): HttpOnly always, SameSite=Lax, Secure
unless `SESSION_COOKIE_SECURE=false` (for plain-http development away from localhost). The cookie
holds only the user's email, role, the account's session epoch and a CSRF token; the account is
re-read on every request, so a deactivated user is out at once, and so is a session made before
`intake.users.end_sessions` (a password reset) raised the epoch. Every state-changing form
carries the session's CSRF token and is refused (403) without it, SameSite being a second line,
not the only one.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake.runtime import Runtime
from intake.store import User

log = logging.getLogger(__name__)

SESSION_COOKIE = "intake_session"
SESSION_MAX_AGE = 12 * 60 * 60  # one working day and a bit: log in again each shift
ROLE_RANK = {"advocate": 0, "manager": 1, "admin": 2}

Handler = Callable[[Request], Awaitable[Response]]


def install_sessions(app: Starlette, runtime: Runtime) -> None:
    secret = runtime.settings.secret_key
    if not secret:
        secret = secrets.token_urlsafe(32)
        log.warning("SECRET_KEY is not set: dashboard sessions end when this process restarts")
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=runtime.settings.session_cookie_secure,
    )


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def csrf_ok(request: Request, form: FormData) -> bool:
    expected = request.session.get("csrf")
    given = form.get("csrf_token")
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode(), str(expected).encode())


async def checked_form(request: Request) -> FormData:
    """The POSTed form, or 403 when its CSRF token is missing or wrong."""
    form = await request.form()
    if not csrf_ok(request, form):
        raise HTTPException(403, "This form has expired or did not come from this site.")
    return form


def log_in(request: Request, user: User) -> None:
    request.session.clear()  # a fresh session on log-in: no fixation
    request.session.update({"email": user.email, "role": user.role, "epoch": user.session_epoch})
    csrf_token(request)


def log_out(request: Request) -> None:
    request.session.clear()


async def current_user(request: Request) -> User | None:
    email = request.session.get("email")
    if not email:
        return None
    runtime: Runtime = request.app.state.runtime
    user = await run_in_threadpool(runtime.store.users.get, str(email))
    if user is None or not user.active or request.session.get("epoch", 0) != user.session_epoch:
        request.session.clear()
        return None
    return user


def has_role(user: User, role: str) -> bool:
    return ROLE_RANK.get(user.role, -1) >= ROLE_RANK[role]


def require(role: str = "advocate") -> Callable[[Callable[..., Awaitable[Response]]], Handler]:
    """Decorate a handler `(request, user)`: log-in page if signed out, 403 if the role is short."""

    def wrap(handler: Callable[..., Awaitable[Response]]) -> Handler:
        @wraps(handler)
        async def guarded(request: Request) -> Response:
            user = await current_user(request)
            if user is None:
                if request.method == "GET" and not request.headers.get("x-requested-with"):
                    target = request.url.path
                    if request.url.query:
                        target += "?" + request.url.query
                    return RedirectResponse("/login?" + urlencode({"next": target}), 303)
                raise HTTPException(401, "Please log in.")
            if not has_role(user, role):
                raise HTTPException(403, f"This page needs the {role} role.")
            return await handler(request, user)

        return guarded

    return wrap


def safe_next(target: Any) -> str:
    """Only same-site paths after log-in, never `//evil.example` or a full URL."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"
