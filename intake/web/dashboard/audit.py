"""The audit trail for managers: on screen, and as CSV for a subject access request or a review."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from intake.runtime import Runtime
from intake.store import User
from intake.web import auth
from intake.web.dashboard.render import page

CSV_COLUMNS = ("at", "actor", "action", "reference", "detail")


def _entries(request: Request, limit: int | None) -> list[dict[str, Any]]:
    runtime: Runtime = request.app.state.runtime
    reference = (request.query_params.get("reference") or "").strip()[:16] or None
    return runtime.store.audit_entries(reference=reference, limit=limit)


@auth.require("manager")
async def audit_page(request: Request, user: User) -> Response:
    runtime: Runtime = request.app.state.runtime

    def load() -> list[dict[str, Any]]:
        entries = _entries(request, 500)
        runtime.store.audit(user.email, "audit.viewed", detail=dict(request.query_params))
        return entries

    entries = await run_in_threadpool(load)
    return page(
        request,
        "audit.html",
        {"user": user, "entries": entries, "reference": request.query_params.get("reference", "")},
    )


def to_csv(entries: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        row = [
            e["at"].isoformat(),
            e["actor"],
            e["action"],
            e.get("reference") or "",
            json.dumps(e.get("detail") or {}, sort_keys=True),
        ]
        # a cell starting with = + - @ is a formula to a spreadsheet: neutralise it
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in row])
    return buffer.getvalue()


@auth.require("manager")
async def audit_csv(request: Request, user: User) -> Response:
    runtime: Runtime = request.app.state.runtime

    def load() -> str:
        entries = _entries(request, None)
        runtime.store.audit(user.email, "audit.exported", detail={"rows": len(entries)})
        return to_csv(entries)

    body = await run_in_threadpool(load)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="intake-audit.csv"',
            "Cache-Control": "no-store",
        },
    )
