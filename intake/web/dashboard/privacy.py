"""Data protection in the dashboard (`/privacy`), for managers: subject access exports and
erasure with two managers.

A subject access export (`export`) asks for the manager's password again and answers with the
zip `intake privacy export` writes (`intake.privacy.access`).

One manager asks for an erasure (a phone number, an email address or a referral's reference,
and the reason); the page shows what it would reach; a second manager, entering their own
password again, confirms it, and only then is anything erased (`intake.privacy.erasure`). The
one who asked cannot confirm; either may withdraw a request that is still pending. Each step is
audited without naming the person (`privacy.erasure_requested`, `privacy.erased`,
`privacy.erasure_withdrawn`).
"""

from __future__ import annotations

import io
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake.models import utcnow
from intake.privacy import access, erasure
from intake.runtime import Runtime
from intake.store import User
from intake.web import auth
from intake.web.dashboard.render import page


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _back(request: Request, said: str) -> Response:
    request.session["flash"] = said
    return RedirectResponse("/privacy", 303)


@auth.require("manager")
async def privacy_page(request: Request, user: User) -> Response:
    runtime = _runtime(request)

    def load() -> dict[str, Any]:
        store = runtime.store
        pending = []
        for row in store.privacy.erasure_requests(pending_only=True):
            try:
                planned = erasure.plan(store, row["kind"], row["value"] or "")
                reach: dict[str, Any] = {
                    "error": None,
                    "references": planned.references,
                    "mentioned": len(planned.mentioned),
                    "held": planned.held,
                }
            except (ValueError, LookupError) as exc:
                reach = {"error": str(exc), "references": [], "mentioned": 0, "held": []}
            pending.append({**row, **reach})
        done = [r for r in store.privacy.erasure_requests() if r["status"] != "pending"][:50]
        store.audit(user.email, "privacy.viewed")
        return {"pending": pending, "done": done}

    data = await run_in_threadpool(load)
    return page(
        request,
        "privacy.html",
        {
            "user": user,
            "flash": request.session.pop("flash", None),
            "kinds": erasure.KINDS,
            "prefill": request.query_params.get("reference", "")[:16],
            **data,
        },
    )


@auth.require("manager")
async def request_erasure(request: Request, user: User) -> Response:
    form = await auth.checked_form(request)
    kind = str(form.get("kind") or "")
    value = str(form.get("value") or "").strip()[:320]
    reason = str(form.get("reason") or "").strip()[:2000]
    runtime = _runtime(request)
    if kind not in erasure.KINDS or not value:
        return _back(request, "Not asked: name a phone number, email address or reference.")
    if not reason:
        return _back(request, "Not asked: give the reason for the erasure.")

    def ask() -> str:
        try:
            planned = erasure.plan(runtime.store, kind, value)
        except (ValueError, LookupError) as exc:
            return f"Not asked: {exc}"
        request_id = runtime.store.privacy.request_erasure(kind, value, reason, user.email)
        runtime.store.audit(
            user.email,
            "privacy.erasure_requested",
            detail={"request": request_id, "kind": kind, "referrals": len(planned.erased)},
        )
        return (
            f"Erasure request {request_id} reaches {len(planned.erased)} referral(s). "
            "A second manager must confirm it."
        )

    return _back(request, await run_in_threadpool(ask))


@auth.require("manager")
async def decide_erasure(request: Request, user: User) -> Response:
    form = await auth.checked_form(request)
    runtime = _runtime(request)
    try:
        request_id = int(request.path_params["request_id"])
    except ValueError:
        return _back(request, "No such request.")
    action = request.path_params["action"]
    row = await run_in_threadpool(runtime.store.privacy.erasure_request, request_id)
    if row is None or row["status"] != "pending":
        return _back(request, "That request is no longer pending.")
    if action == "withdraw":

        def withdraw() -> str:
            if runtime.store.privacy.decide_erasure(request_id, "withdrawn", user.email):
                runtime.store.audit(
                    user.email, "privacy.erasure_withdrawn", detail={"request": request_id}
                )
                return f"Request {request_id} withdrawn: nothing was erased."
            return "That request is no longer pending."

        return _back(request, await run_in_threadpool(withdraw))
    if action != "confirm":
        return _back(request, "No such action.")
    if row["requested_by"] == user.email:
        return _back(request, "A second manager must confirm the erasure you asked for.")
    if not await auth.reauthenticate(request, user, str(form.get("password") or "")):
        return _back(request, "Not erased: your password was not right. Enter it to confirm.")

    def carry_out() -> str:
        store = runtime.store
        try:
            planned = erasure.plan(store, row["kind"], row["value"] or "")
        except (ValueError, LookupError) as exc:
            return f"Not erased: {exc}"
        # Claim the request first: two managers confirming at once erase once.
        if not store.privacy.decide_erasure(request_id, "done", user.email):
            return "That request is no longer pending."
        counts = erasure.erase(
            runtime,
            planned,
            actor=row["requested_by"],
            reason=row["reason"],
            confirmed_by=user.email,
        )
        store.privacy.set_counts(request_id, counts.as_dict())
        return (
            f"Erased: {counts.referrals} referral(s), {counts.messages} message(s), "
            f"{counts.attachments} file(s); {counts.mentions_redacted} mention(s) blanked."
        )

    return _back(request, await run_in_threadpool(carry_out))


@auth.require("manager")
async def export(request: Request, user: User) -> Response:
    form = await auth.checked_form(request)
    runtime = _runtime(request)
    kind = str(form.get("kind") or "")
    value = str(form.get("value") or "").strip()[:320]
    if kind not in erasure.KINDS or not value:
        return _back(request, "No export: name a phone number, email address or reference.")
    if not await auth.reauthenticate(request, user, str(form.get("password") or "")):
        return _back(request, "No export: your password was not right. Enter it to export.")

    def make() -> bytes | str:
        buffer = io.BytesIO()
        try:
            document = access.write_archive(runtime.settings, runtime.store, kind, value, buffer)
        except (ValueError, LookupError) as exc:
            return f"No export: {exc}"
        runtime.store.audit(
            user.email,
            "privacy.exported",
            detail={"kind": kind, "referrals": len(document["referrals"])},
        )
        return buffer.getvalue()

    made = await run_in_threadpool(make)
    if isinstance(made, str):
        return _back(request, made)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        made,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="subject-access-{stamp}.zip"',
            "Cache-Control": "no-store",
        },
    )


@auth.require("manager")
async def legal_hold(request: Request, user: User) -> Response:
    """Put a referral on legal hold (retention leaves it alone) or release it; audited."""
    form = await auth.checked_form(request)
    runtime = _runtime(request)
    reference = str(form.get("reference") or "").strip().upper()[:16]
    reason = str(form.get("reason") or "").strip()[:500]
    hold = form.get("action") == "hold"

    def act() -> str:
        store = runtime.store
        referral_id = store.privacy.id_for_reference(reference)
        if referral_id is None:
            return f"No referral {reference}."
        if hold and not reason:
            return "Not held: say why it must be kept (a claim, a complaint, an inquiry)."
        store.privacy.set_legal_hold(referral_id, hold, reason or None)
        action = "privacy.hold_placed" if hold else "privacy.hold_released"
        store.audit(user.email, action, referral_id=referral_id, detail={})
        return f"{reference} is on legal hold." if hold else f"{reference} is released from hold."

    said = await run_in_threadpool(act)
    request.session["flash"] = said
    return RedirectResponse(f"/referrals/{reference}#dp-h", 303)
