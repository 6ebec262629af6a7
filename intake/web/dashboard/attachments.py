"""Email attachments on the referral page, and downloading them.

Downloads are always served as attachments with a neutral type, so a hostile HTML or SVG file
can never run in the dashboard's origin; every download is audited.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from intake.runtime import Runtime
from intake.store import Store, User
from intake.web import auth


def attachments_for(store: Store, message_id: int) -> list[dict[str, Any]]:
    return store.attachments.for_message(message_id)


@auth.require("advocate")
async def download(request: Request, user: User) -> Response:
    runtime: Runtime = request.app.state.runtime
    reference = request.path_params["reference"]
    attachment_id = request.path_params["attachment_id"]
    if not 0 < attachment_id < 2**63:  # larger ids overflow the database
        raise HTTPException(404, "No such attachment.")

    def load() -> dict[str, Any]:
        referral = runtime.store.get_referral(reference)
        if referral is None:
            raise HTTPException(404, "No such referral.")
        item = runtime.store.attachments.get(attachment_id, referral_id=referral.id)
        if item is None:
            raise HTTPException(404, "No such attachment.")
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
