"""One referral: everything said and done about it, and the actions an advocate takes.

Every GET is audited as a view. Each POST is one `intake.triage` action (which writes the change
and its audit entry together); this module only reads the form and shows the result. Actions are
plain HTML forms that redirect back to the page (post/redirect/get), so they work with
JavaScript off and the back button never re-sends a reply. A reply is previewed first
(`/preview` renders exactly what will be sent, headers and all for an email), then sent.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake import communication, forwarding, precheck, sla, triage
from intake.models import URGENCIES, Referral, utcnow
from intake.privacy import masking
from intake.runtime import Runtime
from intake.screening.lexicon import CATEGORIES
from intake.store import User
from intake.web import auth
from intake.web.dashboard import present, replies
from intake.web.dashboard.attachments import attachments_for
from intake.web.dashboard.render import page

log = logging.getLogger(__name__)

OUTCOMES = triage.OUTCOMES


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


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
        recorded = meta.get("recording_url") or meta.get("RecordingUrl") or ""
        items.append(
            {
                "direction": "in",
                "at": m["received_at"],
                "channel": m["channel"],
                "sender": m["sender"],
                "body": m["body"],
                "subject": meta.get("subject") or meta.get("Subject") or "",
                # mail whose From could not be trusted (channels/email/trust.py): say so
                "unverified": meta.get("sender_trust") if meta.get("sender_verified") is False
                else "",
                "recording_url": present.web_link(recorded),
                "recording_refused": bool(recorded) and not present.web_link(recorded),
                "transcript": meta.get("transcript") or meta.get("TranscriptionText") or "",
                "attachments": attachments_for(runtime.store, m["id"]),
            }
        )
    for o in runtime.store.outbound_for(referral_id):
        mail = present.readable_email(o["body"]) if o["channel"] == "email" else None
        items.append(
            {
                "direction": "out",
                "at": o["created_at"],
                "channel": o["channel"],
                "kind": o["kind"],
                "recipient": o["recipient"],
                "body": mail["text"] if mail else o["body"],
                "subject": mail["subject"] if mail else "",
                "headers": mail["headers"] if mail else [],
                "status": o["status"],
            }
        )
    return sorted(items, key=lambda item: item["at"])


def _forwarding(runtime: Runtime, referral_id: int) -> list[dict[str, Any]]:
    return forwarding.attempts(runtime.store, referral_id)


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
    """Whether and how the person can be replied to, as their channel says."""
    channels = runtime.channels
    came_in = channels.get(referral.channel) if referral.channel in channels else None
    if came_in is None or came_in.reply_channel not in channels:
        return replies.contactability(referral, messages, reply_channel=None, to="")
    to = came_in.reply_address(referral, messages)
    goes_out = channels.get(came_in.reply_channel)
    suppressed = goes_out.suppressed(runtime, to) if to else None
    return replies.contactability(
        referral, messages, reply_channel=goes_out.name, to=to, suppressed=suppressed
    )


def _load_page(runtime: Runtime, user: User, reference: str) -> dict[str, Any]:
    """Everything the referral page shows (and the view's audit entry)."""
    referral = _load(runtime, reference)
    assert referral.id is not None
    work = runtime.store.work
    runtime.store.audit(user.email, "referral.viewed", referral_id=referral.id)
    hidden = masking.hides(user.role, work.get(referral.id).get("claimed_by"), user.email)
    if hidden:
        return _load_hidden(runtime, user, referral)
    now = utcnow()
    zone = runtime.settings.intake_timezone
    matches = (referral.screening or {}).get("matches") or []
    values = present.flat_fields(referral.fields)
    messages = runtime.store.messages_for(referral.id)
    contact = _contact(runtime, referral, messages)
    timer = sla.timer(
        referral.received_at,
        referral.urgency,
        referral.status,
        now,
        sla.Policy.from_settings(runtime.settings),
    )
    templates = runtime.settings.templates_dir
    needs = present.communication_needs(templates, referral.fields, referral.language)
    voice_ok = not any(n.no_voice for n in needs)
    return {
        "facts": present.key_facts(referral.fields),
        "needs": needs,
        "language": present.language_facts(
            templates, referral, runtime.settings.welsh_language_standards
        ),
        "timer_text": timer.describe(zone, now) if timer else "",
        "due_text": timer.due_label(zone, now) if timer else "",
        "corrections": runtime.store.corrections.for_referral(referral.id),
        "colleagues": [u.email for u in runtime.store.users.all() if u.active],
        "referral": referral,
        # screening's phrases and the words the eligibility card was read from
        "highlighted": present.highlight(
            referral.raw_text, [*matches, *present.card_evidence(referral.fields)]
        ),
        "card": present.eligibility_card(referral.fields, referral.raw_text),
        "deadline": present.deadline_note(
            referral.fields,
            referral.urgency,
            now.astimezone(ZoneInfo(zone)).date(),
            runtime.settings.deadline_urgent_days,
        ),
        "precheck": precheck.findings(
            referral.fields, precheck.load(runtime.settings.eligibility_rules)
        ),
        "phrases": present.matched_phrases(referral.raw_text, matches),
        "fields": present.ordered_fields(values),
        "field_history": work.field_history(referral.id),
        "thread": _thread(runtime, referral.id),
        "work": work.get(referral.id),
        "notes": work.notes_for(referral.id),
        "forwarding": _forwarding(runtime, referral.id),
        "links": _links(runtime, referral.id),
        "contact": contact,
        # No voice call-back is offered to a BSL user or a deaf person.
        "reply_templates": [
            (name, title)
            for name, title in replies.reply_templates(templates)
            if voice_ok or name not in communication.voice_reply_templates()
        ],
        "timer": timer,
        "audit": runtime.store.audit_for(referral.id)
        if auth.has_role(user, "manager")
        else None,
        "hold": runtime.store.privacy.summaries([referral.id])[0],
    }


def _load_hidden(runtime: Runtime, user: User, referral: Referral) -> dict[str, Any]:
    """The page for a volunteer not assigned this referral: screening and what was said, with
    contact details hidden (`intake.privacy.masking`), and no reply, notes or history."""
    assert referral.id is not None
    names = masking.surnames(referral.fields)
    masked = dataclasses.replace(
        referral,
        sender=masking.HIDDEN,
        raw_text=masking.text(referral.raw_text, names),
        fields=masking.fields(referral.fields),
    )
    thread = []
    for item in _thread(runtime, referral.id):
        if item["direction"] != "in":
            continue
        thread.append(
            {
                **item,
                "sender": masking.HIDDEN,
                "body": masking.text(item["body"], names),
                "subject": masking.text(item["subject"], names),
                "transcript": masking.text(item["transcript"], names),
                "attachments": [],
                "recording_url": "",
                "recording_refused": False,
            }
        )
    templates = runtime.settings.templates_dir
    today = utcnow().astimezone(ZoneInfo(runtime.settings.intake_timezone)).date()
    return {
        "facts": present.key_facts(masked.fields),
        # What a volunteer needs to work safely is not a contact detail: communication needs,
        # language, and the eligibility card (without the quoted words, which may name people).
        "needs": present.communication_needs(templates, masked.fields, referral.language),
        "language": present.language_facts(
            templates, referral, runtime.settings.welsh_language_standards
        ),
        "card": present.eligibility_card(masked.fields, ""),
        "deadline": present.deadline_note(
            masked.fields, referral.urgency, today, runtime.settings.deadline_urgent_days
        ),
        "precheck": precheck.findings(
            masked.fields, precheck.load(runtime.settings.eligibility_rules)
        ),
        "timer_text": "",
        "due_text": "",
        "corrections": [],
        "colleagues": [],
        "referral": masked,
        "highlighted": present.highlight(masked.raw_text, []),
        "phrases": [],
        "fields": present.ordered_fields(present.flat_fields(masked.fields)),
        "field_history": [],
        "thread": thread,
        "work": runtime.store.work.get(referral.id),
        "notes": [],
        "forwarding": None,
        "links": [],
        "contact": replies.Contact(
            None, "", "Contact details are shown to volunteers only on referrals assigned to them."
        ),
        "reply_templates": [],
        "timer": None,
        "audit": None,
        "hold": None,
        "hidden": True,
    }


def _render(
    request: Request, user: User, data: dict[str, Any], status_code: int = 200
) -> Response:
    return page(
        request,
        "referral.html",
        {
            "user": user,
            "urgencies": URGENCIES,
            "outcomes": OUTCOMES,
            "categories": CATEGORIES,
            "flash": request.session.pop("flash", None),
            "reply_nonce": secrets.token_urlsafe(12),
            "preview": None,
            "reply_limit": triage.MAX_REPLY,
            "hidden": False,
            **data,
        },
        status_code,
    )


@auth.require("volunteer")
async def referral_page(request: Request, user: User) -> Response:
    runtime = _runtime(request)
    reference = request.path_params["reference"]
    data = await run_in_threadpool(_load_page, runtime, user, reference)
    return _render(request, user, data)


@auth.require("advocate")
async def reply_preview(request: Request, user: User) -> Response:
    """The page again, with the reply exactly as it would be sent (nothing is sent)."""
    form = await auth.checked_form(request)
    runtime = _runtime(request)
    reference = request.path_params["reference"]

    def load() -> dict[str, Any]:
        data = _load_page(runtime, user, reference)
        contact: replies.Contact = data["contact"]
        if not contact.possible or contact.channel is None:
            raise HTTPException(409, contact.reason)
        template = _text(form, "template", 64)
        text = _text(form, "text", max(triage.MAX_REPLY.values()))
        try:
            draft = triage.draft_reply(
                runtime,
                data["referral"],
                channel=contact.channel,
                to=contact.to,
                template="" if text else template,
                text=text,
            )
        except triage.ActionRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        mail = present.readable_email(draft.body) if draft.channel == "email" else None
        data["preview"] = {
            "draft": draft,
            "mail": mail,
            "written": text,
            "segments": present.sms_segments(draft.body) if draft.channel != "email" else 0,
        }
        return data

    data = await run_in_threadpool(load)
    return _render(request, user, data)


def _back(reference: str, request: Request, message: str, anchor: str = "") -> Response:
    request.session["flash"] = message
    return RedirectResponse(f"/referrals/{quote(reference)}{anchor}", 303)


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _reply(runtime: Runtime, user: User, referral: Referral, form: FormData) -> str:
    assert referral.id is not None
    contact = _contact(runtime, referral, runtime.store.messages_for(referral.id))
    if not contact.possible or contact.channel is None:
        raise triage.ActionRefused(contact.reason, 409)
    text = _text(form, "text", max(triage.MAX_REPLY.values()))
    return triage.reply(
        runtime,
        referral,
        user.email,
        channel=contact.channel,
        to=contact.to,
        template="" if text else _text(form, "template", 64),
        text=text,
        nonce=_text(form, "nonce", 64) or secrets.token_urlsafe(12),
    )


def _edit_field(runtime: Runtime, user: User, referral: Referral, form: FormData) -> str:
    return triage.edit_field(
        runtime,
        referral,
        user.email,
        _text(form, "field", 64),
        _text(form, "value", triage.MAX_FIELD),
        shown=present.flat_fields(referral.fields),
        editable=present.FIELD_ORDER,
    )


def _decide_link(runtime: Runtime, user: User, referral: Referral, form: FormData) -> str:
    decision = _text(form, "decision", 16)
    if decision not in ("confirm", "reject"):
        raise triage.ActionRefused("Choose confirm or reject.")
    try:
        link_id = int(_text(form, "link", 16))
    except ValueError:
        raise triage.ActionRefused("No such link.") from None
    return triage.decide_link(runtime, referral, user.email, link_id, confirm=decision == "confirm")


def _categories(runtime: Runtime, user: User, referral: Referral, form: FormData) -> str:
    chosen = [str(v) for v in form.getlist("category")]
    reason = _text(form, "reason", triage.MAX_REASON)
    return triage.correct_categories(runtime, referral, user.email, chosen, reason)


Action = Callable[[Runtime, User, Referral, FormData], str]
ACTIONS: dict[str, Action] = {
    "claim": lambda rt, user, r, _f: triage.claim(rt, r, user.email),
    "unclaim": lambda rt, user, r, _f: triage.unclaim(rt, r, user.email),
    "urgency": lambda rt, user, r, f: triage.set_urgency(
        rt, r, user.email, _text(f, "urgency", 16), _text(f, "reason", triage.MAX_REASON)
    ),
    "triaged": lambda rt, user, r, _f: triage.mark_triaged(rt, r, user.email),
    "categories": _categories,
    "assign": lambda rt, user, r, f: triage.assign(rt, r, user.email, _text(f, "to", 320)),
    "note": lambda rt, user, r, f: triage.add_note(
        rt, r, user.email, _text(f, "note", triage.MAX_NOTE)
    ),
    "field": _edit_field,
    "reply": _reply,
    "link": _decide_link,
    "forward": lambda rt, user, r, _f: triage.forward(rt, r, user.email),
    "close": lambda rt, user, r, f: triage.close(rt, r, user.email, _text(f, "outcome", 64)),
    "reopen": lambda rt, user, r, f: triage.reopen(
        rt, r, user.email, _text(f, "reason", triage.MAX_REASON)
    ),
}


def _act(runtime: Runtime, user: User, reference: str, action: str, form: FormData) -> str:
    """Do one action; the sentence shown on the page. Raises HTTPException when refused."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise HTTPException(404, "No such action.")
    referral = _load(runtime, reference)
    try:
        return handler(runtime, user, referral, form)
    except triage.ActionRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None


@auth.require("advocate")
async def referral_action(request: Request, user: User) -> Response:
    form = await auth.checked_form(request)
    reference = request.path_params["reference"]
    action = request.path_params["action"]
    message = await run_in_threadpool(_act, _runtime(request), user, reference, action, form)
    return _back(reference, request, message, "#actions")
