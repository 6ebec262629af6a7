"""The duty advocate dashboard: routes, static files, sessions.

`install(app, runtime)` is the one call `intake.web.app` makes; everything else is in this package.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from intake.runtime import Runtime
from intake.web.auth import install_sessions
from intake.web.dashboard import (
    accounts,
    attachments,
    audit,
    incidents,
    privacy,
    queue,
    referral,
    second_factor,
)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

routes = [
    Route("/login", queue.login_form, methods=["GET"], name="login"),
    Route("/login", queue.login, methods=["POST"]),
    Route("/login/code", second_factor.code_form, methods=["GET"], name="login_code"),
    Route("/login/code", second_factor.code, methods=["POST"]),
    Route("/account/totp", second_factor.setup_page, methods=["GET"], name="totp"),
    Route("/account/totp", second_factor.setup, methods=["POST"]),
    Route("/logout", queue.logout, methods=["POST"], name="logout"),
    Route("/", queue.queue_page, methods=["GET"], name="queue"),
    Route("/queue/rows", queue.queue_fragment, methods=["GET"], name="queue_rows"),
    Route("/queue/state", queue.state, methods=["GET"], name="queue_state"),
    Route("/queue/bulk", queue.bulk, methods=["POST"], name="queue_bulk"),
    Route("/filters", queue.save_filter, methods=["POST"], name="save_filter"),
    Route(
        "/filters/{filter_id:int}/delete",
        queue.delete_filter,
        methods=["POST"],
        name="delete_filter",
    ),
    Route("/notices", queue.notices_page, methods=["GET"], name="notices"),
    Route("/admin/users", accounts.users_page, methods=["GET"], name="users"),
    Route("/admin/users/{action}", accounts.users_action, methods=["POST"], name="users_action"),
    Route("/referrals/{reference}", referral.referral_page, methods=["GET"], name="referral"),
    Route(
        "/referrals/{reference}/preview",
        referral.reply_preview,
        methods=["POST"],
        name="reply_preview",
    ),
    Route(
        "/referrals/{reference}/attachments/{attachment_id:int}",
        attachments.download,
        methods=["GET"],
        name="attachment",
    ),
    Route(
        "/referrals/{reference}/{action}",
        referral.referral_action,
        methods=["POST"],
        name="referral_action",
    ),
    Route(
        "/incidents/{incident_id:int}", incidents.incident_page, methods=["GET"], name="incident"
    ),
    Route(
        "/incidents/{incident_id:int}/close",
        incidents.close_incident,
        methods=["POST"],
        name="incident_close",
    ),
    Route("/privacy", privacy.privacy_page, methods=["GET"], name="privacy"),
    Route("/privacy/hold", privacy.legal_hold, methods=["POST"], name="legal_hold"),
    Route("/privacy/export", privacy.export, methods=["POST"], name="privacy_export"),
    Route("/privacy/erasures", privacy.request_erasure, methods=["POST"], name="erasure_request"),
    Route(
        "/privacy/erasures/{request_id}/{action}",
        privacy.decide_erasure,
        methods=["POST"],
        name="erasure_decide",
    ),
    Route("/audit", audit.audit_page, methods=["GET"], name="audit"),
    Route("/audit.csv", audit.audit_csv, methods=["GET"], name="audit_csv"),
    Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
]


def install(app: Starlette, runtime: Runtime) -> None:
    app.router.routes.extend(routes)
    install_sessions(app, runtime)
