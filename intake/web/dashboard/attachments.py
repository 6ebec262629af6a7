"""Email attachments on the referral page, and downloading them.

The `attachments` table belongs to the email channel; the dashboard only reads it, and shows
nothing when this installation has no such table. Downloads are always served as attachments
with a neutral type, so a hostile HTML or SVG file can never run in the dashboard's origin.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from intake import store as store_module
from intake.dashboard_store import User
from intake.runtime import Runtime
from intake.store import Store
from intake.web import auth


def _table() -> sa.Table | None:
    table = getattr(store_module, "attachments", None)
    return table if isinstance(table, sa.Table) else None


def attachments_for(store: Store, message_id: int) -> list[dict[str, Any]]:
    table = _table()
    if table is None:
        return []
    columns = [c for c in table.c if c.name not in ("data", "text")]
    query = sa.select(*columns).where(table.c.message_id == message_id)
    if "position" in table.c:
        query = query.order_by(table.c.position)
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


@auth.require("advocate")
async def download(request: Request, user: User) -> Response:
    runtime: Runtime = request.app.state.runtime
    reference = request.path_params["reference"]
    attachment_id = request.path_params["attachment_id"]
    table = _table()
    if table is None or not 0 < attachment_id < 2**63:  # larger ids overflow the database
        raise HTTPException(404, "No attachments here.")

    def load() -> dict[str, Any]:
        referral = runtime.store.get_referral(reference)
        if referral is None:
            raise HTTPException(404, "No such referral.")
        with runtime.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(table).where(
                    table.c.id == attachment_id, table.c.referral_id == referral.id
                )
            ).first()
        if row is None:
            raise HTTPException(404, "No such attachment.")
        item = dict(row._mapping)
        runtime.store.audit(
            user.email,
            "attachment.downloaded",
            referral_id=referral.id,
            detail={"attachment_id": item["id"], "filename": item.get("filename", "")},
        )
        return item

    item = await run_in_threadpool(load)
    filename = str(item.get("filename") or f"attachment-{attachment_id}")
    return Response(
        bytes(item["data"]),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
