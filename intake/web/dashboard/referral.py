"""One referral: everything said and done about it, and the actions an advocate takes.

Every GET is audited as a view and every POST as the change it made, with the user's email.
Actions are plain HTML forms that redirect back to the page (post/redirect/get), so they work
with JavaScript off and the back button never re-sends a reply.
"""

from __future__ import annotations

import importlib
import logging
import secrets
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake import forwarders, merge, outbound, sla
from intake.models import URGENCIES, Referral, utcnow
from intake.runtime import Runtime
from intake.store import User
from intake.web import auth
from intake.web.dashboard import present, replies
from intake.web.dashboard.attachments import attachments_for
from intake.web.dashboard.render import page

log = logging.getLogger(__name__)

OUTCOMES = (
    "Referred to an advocate",
    "Signposted to another service",
    "Not eligible for advocacy",
    "Could not make contact",
    "Duplicate of another referral",
    "Withdrawn by the person",
)
MAX_NOTE = 4000
MAX_FIELD = 500


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _optional(module: str) -> Any:
    """Another part of intake that may not be installed yet (forwarding history, replay)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _load(runtime: Runtime, reference: str) -> Referral:
    referral = runtime.store.get_referral(reference)
    if referral is None or referral.id is None:
        raise HTTPException(404, "No such referral.")
    return referral


def _thread(runtime: Runtime, referral_id: int) -> list[dict[str, Any]]:
    """Inbound messages and what was sent back, in time order."""
    items: list[dict[str, Any]] = []
    for m in runtime.store.messages_for(referral_id):
        meta = m.get("meta") or {}
        items.append(
            {
                "direction": "in",
                "at": m["received_at"],
                "channel": m["channel"],
                "sender": m["sender"],
                "body": m["body"],
                "subject": meta.get("subject") or meta.get("Subject") or "",
                "recording_url": meta.get("recording_url") or meta.get("RecordingUrl") or "",
                "transcript": meta.get("transcript") or meta.get("TranscriptionText") or "",
                "attachments": attachments_for(runtime.store, m["id"]),
            }
        )
    for o in runtime.store.outbound_for(referral_id):
        items.append(
            {
                "direction": "out",
                "at": o["created_at"],
                "channel": o["channel"],
                "kind": o["kind"],
                "recipient": o["recipient"],
                "body": o["body"],
                "status": o["status"],
            }
        )
    return sorted(items, key=lambda item: item["at"])


def _forwarding(runtime: Runtime, referral_id: int) -> list[dict[str, Any]] | None:
    module = _optional("intake.forwarding")
    if module is None or not hasattr(module, "attempts"):
        return None
    try:
        return [dict(a) for a in module.attempts(runtime.store, referral_id)]
    except Exception:
        log.exception("could not read forwarding history for referral %s", referral_id)
        return None


def _links(runtime: Runtime, referral_id: int) -> list[dict[str, Any]]:
    """Possible duplicates of this referral and what people decided, with the other reference."""
    found = []
    for link in runtime.store.links.touching(referral_id):
        other_id = link["other_id"] if link["referral_id"] == referral_id else link["referral_id"]
        other = runtime.store.get_referral_by_id(other_id)
        if other is not None:
            found.append({**link, "other": other})
    return found


def _contact(
    runtime: Runtime, referral: Referral, messages: list[dict[str, Any]]
) -> replies.Contact:
    optout = _optional("intake.optout")
    opted_out = bool(
        optout is not None
        and referral.sender
        and referral.channel in ("sms", "voice")
        and optout.is_opted_out(runtime.store, referral.sender)
    )
    return replies.contactability(referral, messages, outbound.SENDERS, opted_out=opted_out)


@auth.require("advocate")
async def referral_page(request: Request, user: User) -> Response:
    runtime = _runtime(request)
    reference = request.path_params["reference"]

    def load() -> dict[str, Any]:
        referral = _load(runtime, reference)
        assert referral.id is not None
        work = runtime.store.work
        runtime.store.audit(user.email, "referral.viewed", referral_id=referral.id)
        matches = (referral.screening or {}).get("matches") or []
        values = present.flat_fields(referral.fields)
        messages = runtime.store.messages_for(referral.id)
        contact = _contact(runtime, referral, messages)
        timer = sla.timer(
            referral.received_at,
            referral.urgency,
            referral.status,
            utcnow(),
            sla.Policy.from_settings(runtime.settings),
        )
        return {
            "referral": referral,
            "highlighted": present.highlight(referral.raw_text, matches),
            "phrases": present.matched_phrases(referral.raw_text, matches),
            "fields": present.ordered_fields(values),
            "field_history": work.field_history(referral.id),
            "thread": _thread(runtime, referral.id),
            "work": work.get(referral.id),
            "notes": work.notes_for(referral.id),
            "forwarding": _forwarding(runtime, referral.id),
            "links": _links(runtime, referral.id),
            "contact": contact,
            "reply_templates": replies.reply_templates(runtime.settings.templates_dir),
            "timer": timer,
            "audit": runtime.store.audit_for(referral.id)
            if auth.has_role(user, "manager")
            else None,
        }

    data = await run_in_threadpool(load)
    return page(
        request,
        "referral.html",
        {
            "user": user,
            "urgencies": URGENCIES,
            "outcomes": OUTCOMES,
            "flash": request.session.pop("flash", None),
            "reply_nonce": secrets.token_urlsafe(12),
            **data,
        },
    )


def _back(reference: str, request: Request, message: str, anchor: str = "") -> Response:
    request.session["flash"] = message
    return RedirectResponse(f"/referrals/{quote(reference)}{anchor}", 303)


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _act(runtime: Runtime, user: User, reference: str, action: str, form: FormData) -> str:
    """Do one action; returns the message shown on the page. Raises HTTPException on bad input."""
    referral = _load(runtime, reference)
    rid = referral.id
    assert rid is not None
    work = runtime.store.work
    audit = runtime.store.audit
    if action == "claim":
        work.set(rid, claimed_by=user.email, claimed_at=utcnow())
        audit(user.email, "referral.claimed", referral_id=rid)
        return "You have claimed this referral."
    if action == "unclaim":
        work.set(rid, claimed_by=None, claimed_at=None)
        audit(user.email, "referral.unclaimed", referral_id=rid)
        return "Claim released."
    if action == "urgency":
        urgency, reason = _text(form, "urgency", 16), _text(form, "reason", 500)
        if urgency not in URGENCIES:
            raise HTTPException(400, "Choose an urgency.")
        if not reason:
            raise HTTPException(400, "Give a reason for changing the urgency.")
        runtime.store.update_referral(rid, urgency=urgency)
        audit(
            user.email,
            "referral.urgency_changed",
            referral_id=rid,
            detail={"from": referral.urgency, "to": urgency, "reason": reason},
        )
        return f"Urgency changed to {urgency}."
    if action == "triaged":
        work.set(rid, triaged_by=user.email, triaged_at=utcnow())
        runtime.store.update_referral(rid, status="triaged")
        audit(user.email, "referral.triaged", referral_id=rid)
        return "Marked as triaged."
    if action == "note":
        body = _text(form, "note", MAX_NOTE)
        if not body:
            raise HTTPException(400, "The note is empty.")
        work.add_note(rid, user.email, body)
        audit(user.email, "referral.note_added", referral_id=rid)
        return "Note added."
    if action == "field":
        name, value = _text(form, "field", 64), _text(form, "value", MAX_FIELD)
        values = present.flat_fields(referral.fields)
        if not name or (name not in values and name not in present.FIELD_ORDER):
            raise HTTPException(400, "Unknown field.")
        if _edit_field(runtime, referral, name, value, user.email, values=values):
            audit(
                user.email,
                "referral.field_edited",
                referral_id=rid,
                detail={"field": name, "from": values.get(name), "to": value},
            )
            return f"{present.field_label(name)} updated."
        return "No change."
    if action == "reply":
        return _reply(runtime, user, referral, form)
    if action == "link":
        return _decide_link(runtime, user, rid, form)
    if action == "forward":
        return _forward(runtime, user, referral)
    if action == "close":
        outcome = _text(form, "outcome", 64)
        if outcome not in OUTCOMES:
            raise HTTPException(400, "Choose an outcome.")
        work.set(rid, outcome=outcome, closed_by=user.email, closed_at=utcnow())
        runtime.store.update_referral(rid, status="closed")
        audit(user.email, "referral.closed", referral_id=rid, detail={"outcome": outcome})
        return f"Closed: {outcome}."
    raise HTTPException(404, "No such action.")


def _edit_field(
    runtime: Runtime,
    referral: Referral,
    name: str,
    value: str,
    editor: str,
    *,
    values: dict[str, Any],
) -> bool:
    """Change one extracted field; `values` is the flat field map the page showed.

    Returns False when nothing changed. The edit is written into the referral's `fields`
    document (under `fields` when extraction nests them there) and into the history table.
    """
    assert referral.id is not None
    old = values.get(name)
    old_text = "" if old is None else str(old)
    if old_text == value:
        return False
    document = dict(referral.fields)
    if isinstance(document.get("fields"), dict):
        document["fields"] = {**document["fields"], name: value}
    else:
        document[name] = value
    with runtime.store.transaction():
        runtime.store.update_referral(referral.id, fields=document)
        runtime.store.work.record_field_edit(
            referral.id, name, None if old is None else old_text, value, editor
        )
    referral.fields = document
    return True


def _reply(runtime: Runtime, user: User, referral: Referral, form: FormData) -> str:
    assert referral.id is not None
    contact = _contact(runtime, referral, runtime.store.messages_for(referral.id))
    if not contact.possible or contact.channel is None:
        raise HTTPException(409, contact.reason)
    name = _text(form, "template", 64)
    try:
        body = replies.render_reply(runtime.settings, name, referral)
    except KeyError:
        raise HTTPException(400, "Choose a reply template.") from None
    nonce = _text(form, "nonce", 64) or secrets.token_urlsafe(12)
    try:
        result = outbound.send(
            runtime.settings,
            runtime.store,
            channel=contact.channel,
            to=contact.to,
            body=body,
            kind="reply",
            referral_id=referral.id,
            dedupe_key=f"reply:{referral.reference}:{nonce}",
        )
    except outbound.Unreachable as exc:
        runtime.store.audit(
            user.email,
            "referral.reply_failed",
            referral_id=referral.id,
            detail={"template": name, "error": str(exc)[:200]},
        )
        return "The reply could not be sent just now (the provider did not answer). Try again."
    runtime.store.audit(
        user.email,
        "referral.replied",
        referral_id=referral.id,
        detail={"template": name, "channel": contact.channel, "status": result.status},
    )
    return {
        "sent": "Reply sent.",
        "duplicate": "That reply was already sent.",
        "rejected": f"The provider refused the reply: {result.detail}",
    }.get(result.status, result.status)


def _decide_link(runtime: Runtime, user: User, referral_id: int, form: FormData) -> str:
    """Confirm (merge) or reject a suggested duplicate; only a link that touches this referral."""
    decision = _text(form, "decision", 16)
    try:
        link_id = int(_text(form, "link", 16))
    except ValueError:
        raise HTTPException(400, "No such link.") from None
    if decision not in ("confirm", "reject"):
        raise HTTPException(400, "Choose confirm or reject.")
    ours = {link["id"] for link in runtime.store.links.touching(referral_id)}
    if link_id not in ours:
        raise HTTPException(404, "No such link on this referral.")
    kept = merge.decide(runtime, link_id, confirm=decision == "confirm", actor=user.email)
    if decision == "reject":
        return "Marked as not the same person."
    return f"Merged into {kept.reference}." if kept else "That link was already decided."


def _forward(runtime: Runtime, user: User, referral: Referral) -> str:
    assert referral.id is not None
    module = _optional("intake.forwarding")
    try:
        if module is not None and hasattr(module, "replay"):
            module.replay(runtime, referral.reference)
        else:
            forwarders.forward(runtime.settings, runtime.store, referral)
    except Exception as exc:
        runtime.store.audit(
            user.email,
            "referral.forward_failed",
            referral_id=referral.id,
            detail={"error": str(exc)[:200]},
        )
        return f"Forwarding failed: {str(exc)[:200]}"
    runtime.store.audit(user.email, "referral.forwarded", referral_id=referral.id)
    return "Forwarded to the case system."


@auth.require("advocate")
async def referral_action(request: Request, user: User) -> Response:
    form = await auth.checked_form(request)
    reference = request.path_params["reference"]
    action = request.path_params["action"]
    message = await run_in_threadpool(_act, _runtime(request), user, reference, action, form)
    return _back(reference, request, message, "#actions")
