"""Staff accounts in the dashboard (`/admin/users`): for admins, and managers for advocates.

Who may do what is decided once, in `intake.users.may` (see `intake.users`); this page only shows
the actions the signed-in person may take and calls the same functions as `intake user ...`.
A new or reset password is shown once, on the page that made it, for its owner to change.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake import users
from intake.runtime import Runtime
from intake.store import ROLES, User, UserExists
from intake.web import auth
from intake.web.dashboard.render import page


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


@auth.require("manager")
async def users_page(request: Request, user: User) -> Response:
    runtime = _runtime(request)

    def load() -> dict[str, Any]:
        accounts = runtime.store.users.all()
        locked = {
            a.email
            for a in accounts
            if users.is_locked(runtime.settings, runtime.store, a.email)
        }
        runtime.store.audit(user.email, "users.viewed")
        return {"accounts": accounts, "locked": locked}

    data = await run_in_threadpool(load)
    return page(
        request,
        "users.html",
        {
            "user": user,
            "roles": ROLES if user.role == "admin" else ("advocate", "volunteer"),
            "may": lambda action, role: not users.may(user, action, role),
            "flash": request.session.pop("flash", None),
            "secret": request.session.pop("secret", None),
            **data,
        },
    )


@auth.require("manager")
async def users_action(request: Request, user: User) -> Response:
    form = await auth.checked_form(request)
    runtime = _runtime(request)
    action = request.path_params["action"]
    email = str(form.get("email") or "").strip().lower()[:320]
    role = str(form.get("role") or "")

    def act() -> tuple[str, str | None]:
        store = runtime.store
        try:
            if action == "add":
                password = users.generate_password()
                users.admin_add(store, user, user.email, email, password, role)
                return f"Added {email} ({role}). Give them this password once:", password
            if action == "disable":
                users.set_active(store, user, user.email, email, active=False)
                return f"Disabled {email}; their sessions have ended.", None
            if action == "enable":
                users.set_active(store, user, user.email, email, active=True)
                return f"Enabled {email}.", None
            if action == "unlock":
                users.unlock(store, user, user.email, email)
                return f"Unlocked {email}: they can log in now.", None
            if action == "reset-password":
                password = users.reset_password(store, user, user.email, email)
                return f"New password for {email} (their sessions have ended):", password
            if action == "set-role":
                users.set_role(store, user, user.email, email, role)
                return f"{email} is now {role}.", None
        except (users.NotAllowed, LookupError, ValueError, UserExists) as exc:
            return f"Not done: {exc}", None
        return "No such action.", None

    said, secret = await run_in_threadpool(act)
    request.session["flash"] = said
    if secret:
        request.session["secret"] = secret
    return RedirectResponse("/admin/users", 303)
