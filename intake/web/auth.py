"""Dashboard sessions, device tokens, CSRF tokens, roles, and the gate on password hashing.

The cookie is Starlette's signed session cookie (itsdangerous): HttpOnly always, SameSite=Lax,
Secure unless `SESSION_COOKIE_SECURE=false` (for plain-http development away from localhost). It
holds a CSRF token, a flash message and, once logged in, a random session token; the session
itself is a row in the store (`intake.users.start_session`), checked on every request together
with its account. So log-out ends the session wherever the cookie was copied to, and so do a
password change, a disabled account, 12 hours, and `SESSION_IDLE_MINUTES` without a request;
re-sending the cookie (Starlette renews it on every response) extends none of them. Every
state-changing form carries the session's CSRF token and is refused (403) without it, SameSite
being a second line, not the only one.

A browser that logs in gets a device token for that account (a second signed cookie, a year
long): the log-in throttle holds it only to its own failures (`intake.users`), so the account's
owner is not locked out by whoever else is guessing.

`HashGate` bounds how many Argon2 checks (64 MiB each) this process runs at once; log-ins beyond
that wait without holding a thread, and beyond its queue get 503 at once, so a log-in storm can
neither exhaust memory nor starve the threads that answer `/healthz` and Twilio.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake import users
from intake.runtime import Runtime
from intake.store import User

log = logging.getLogger(__name__)

SESSION_COOKIE = "intake_session"
SESSION_MAX_AGE = users.SESSION_HOURS * 60 * 60  # the cookie's; the session row decides
DEVICE_COOKIE = "intake_device"
DEVICE_MAX_AGE = 365 * 24 * 60 * 60
ROLE_RANK = {"volunteer": 0, "advocate": 1, "manager": 2, "admin": 3}
SID = "sid"  # the session token's key in the signed cookie

Handler = Callable[[Request], Awaitable[Response]]


class Busy(Exception):
    """Too many log-ins are waiting for a password check in this process."""


class HashGate:
    """At most `concurrency` password checks at once in this process, at most `queue` waiting.

    Waiting happens on the event loop, not in a thread, so a queue of log-ins holds neither
    memory nor the thread pool that every other request (and Twilio's webhooks) needs.
    """

    def __init__(self, concurrency: int, queue: int) -> None:
        self.limit = max(1, concurrency)
        self.queue = max(0, queue)
        self._slots = asyncio.Semaphore(self.limit)
        self._waiting = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot; raises `Busy` at once when the queue is full."""
        if self._slots.locked() and self._waiting >= self.queue:
            raise Busy
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()


def _secret(runtime: Runtime) -> str:
    secret = runtime.settings.secret_key
    if not secret:
        secret = secrets.token_urlsafe(32)
        log.warning("SECRET_KEY is not set: dashboard sessions end when this process restarts")
    return secret


def install_sessions(app: Starlette, runtime: Runtime) -> None:
    secret = _secret(runtime)
    app.state.device_signer = URLSafeTimedSerializer(secret, salt="intake-device")
    app.state.hash_gate = HashGate(
        runtime.settings.login_hash_concurrency, runtime.settings.login_hash_queue
    )
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


async def reauthenticate(request: Request, user: User, password: str) -> bool:
    """The signed-in person's password again, before an export or an erasure.

    Checked as a log-in is (`intake.users.authenticate`: throttled, recorded, through the
    password-check gate), so it cannot be used to guess faster than the log-in page allows.
    WCAG 2.2 3.3.8: a password field that accepts paste, no puzzle. False when wrong, throttled
    or the service is busy; each failure is audited.
    """
    runtime = request.app.state.runtime
    if not password:
        return False
    client = client_address(request)
    try:
        async with request.app.state.hash_gate.slot():
            result = await run_in_threadpool(
                users.authenticate,
                runtime.settings,
                runtime.store,
                user.email,
                password,
                client,
                device_token(request, user.email),
            )
    except Busy:
        return False
    if not result.ok or result.user is None or result.user.id != user.id:
        await run_in_threadpool(
            runtime.store.audit, user.email, "reauth.failed", detail={"client": client}
        )
        return False
    return True


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def log_in(request: Request, user: User) -> None:
    """A fresh session (no fixation) for `user`, stored server-side; call from a thread."""
    runtime: Runtime = request.app.state.runtime
    old = request.session.get(SID)
    if old:
        users.end_session(runtime.store, str(old), "replaced by a new log-in")
    token = users.start_session(runtime.store, user, client_address(request))
    request.session.clear()
    request.session.update({SID: token})
    csrf_token(request)


def log_out(request: Request) -> None:
    """End the session in the store, not just in this browser; call from a thread."""
    token = request.session.get(SID)
    if token:
        users.end_session(request.app.state.runtime.store, str(token))
    request.session.clear()


async def current_user(request: Request) -> User | None:
    token = request.session.get(SID)
    if not token:
        return None
    runtime: Runtime = request.app.state.runtime
    user = await run_in_threadpool(
        users.session_user, runtime.settings, runtime.store, str(token)
    )
    if user is None:
        request.session.clear()
        return None
    return user


def device_token(request: Request, email: str) -> str | None:
    """The browser's device token for `email`, if it carries a good one (else None)."""
    value = request.cookies.get(DEVICE_COOKIE)
    if not value:
        return None
    try:
        data = request.app.state.device_signer.loads(value, max_age=DEVICE_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("email") != email.strip().lower():
        return None
    token = data.get("device")
    return token if isinstance(token, str) and token else None


def set_device_cookie(request: Request, response: Response, email: str) -> None:
    """Give the browser a device token for `email` (a year long) after a good log-in."""
    if device_token(request, email):
        return
    value = request.app.state.device_signer.dumps(
        {"email": email.strip().lower(), "device": secrets.token_urlsafe(16)}
    )
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.app.state.runtime.settings.session_cookie_secure,
        path="/login",
    )


def has_role(user: User, role: str) -> bool:
    return ROLE_RANK.get(user.role, -1) >= ROLE_RANK[role]


def require(
    role: str = "advocate", *, enrolling: bool = False
) -> Callable[[Callable[..., Awaitable[Response]]], Handler]:
    """Decorate a handler `(request, user)`: log-in page if signed out, 403 if the role is short.

    With `INTAKE_REQUIRE_TOTP` on, someone without a second factor is sent to set one up first
    (`/account/totp`), except on the pages that do it (`enrolling`)."""

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
            settings = request.app.state.runtime.settings
            if settings.require_totp and not user.totp and not enrolling:
                if request.method == "GET":
                    return RedirectResponse("/account/totp", 303)
                raise HTTPException(403, "Set up two-step log-in first (/account/totp).")
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
