"""Every action a duty advocate takes on a referral: one function each.

Each action writes its change and its audit entry in one transaction, so there is never a change
without its record nor a record of a change that did not happen. The rules, stated once:

- **The case system hears** (an `updated` event, `intake.forwarding.bring_up_to_date`) about the
  changes it can see: urgency, status (triaged, closed, reopened), edited fields, a confirmed
  merge. Claims, notes and replies stay in intake.
- **A raise to emergency alerts on-call**, as an RQ job with retries
  (`intake.tasks.alert_emergency`), so a provider outage never loses it and never keeps the
  advocate waiting.
- **A person's urgency decision stands**: `set_urgency` records who decided, so later messages
  that screen higher mark the referral for attention instead of overwriting it
  (`intake.absorb`). Triage and an urgency decision clear the "new message since triage" marker.
- A closed referral is reopened with a reason (or by a new message, `intake.absorb`).
- **Corrections teach screening**: a change of urgency or of safeguarding categories is also
  kept as a correction (`store.corrections`, with the reason) for `intake export corrections`.
- **A referral taken from someone tells them**: claiming a referral another advocate held, or
  assigning it to a named colleague, leaves a notice for the one who had it (and for the
  colleague it was given to), shown in their dashboard.

Each function returns the sentence the advocate sees, and raises `ActionRefused` (with an HTTP
status for the web layer) when the request cannot be done as asked.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from intake import acknowledge, alerts, forwarding, merge, outbound
from intake.communication import voice_call_back, voice_reply_templates
from intake.failures import Unreachable
from intake.models import URGENCIES, Referral, more_urgent, utcnow
from intake.queue import ALERT_EMERGENCY, INBOUND_RETRY, QueueUnavailable, enqueue, safe_job_id
from intake.runtime import Runtime
from intake.screening.lexicon import CATEGORIES
from intake.templating import render_text, titled

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
MAX_REASON = 500
REPLY_DIR = "replies"  # templates/replies/*.txt: what an advocate can send
FRAME_DIR = "reply_frames"  # templates/reply_frames/<channel>.txt: around a free-text reply
# Free text an advocate may write: Twilio's 1,600 characters for a text; a letter by email.
MAX_REPLY = {"sms": 1600, "email": 10000}
BULK_ACTIONS = ("close", "assign", "claim")
MAX_BULK = 200


class ActionRefused(Exception):
    """The action cannot be done as asked; `status` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _id(referral: Referral) -> int:
    assert referral.id is not None, "a stored referral"
    return referral.id


def _tell_case_system(runtime: Runtime, referral: Referral) -> str:
    """Schedule an update of what changed; a sentence for the advocate when that failed."""
    fresh = runtime.store.get_referral_by_id(_id(referral))
    assert fresh is not None
    try:
        forwarding.bring_up_to_date(runtime, fresh)
    except QueueUnavailable:
        log.error("could not queue the case-system update for %s", referral.reference)
        return " The case system could not be told just now: use Forward to send it again."
    return ""


# -- claiming ---------------------------------------------------------------------------------


def claim(runtime: Runtime, referral: Referral, actor: str) -> str:
    """Claim for oneself; whoever held it is told (a notice). No `updated` event."""
    store = runtime.store
    with store.transaction():
        before = store.work.get(_id(referral))["claimed_by"]
        store.work.set(_id(referral), claimed_by=actor, claimed_at=utcnow())
        detail = {"from": before} if before and before != actor else None
        store.audit(actor, "referral.claimed", referral_id=referral.id, detail=detail)
        if before and before != actor:
            store.desk.notify(
                before, f"{actor} took over {referral.reference} from you.", referral.id
            )
    return "You have claimed this referral."


def assign(runtime: Runtime, referral: Referral, actor: str, to: str) -> str:
    """Give the referral to a named colleague (an active dashboard account). The colleague and
    whoever held it before are told (notices); audited as `referral.assigned`. No `updated`
    event: who works a referral inside the service is not the case system's business."""
    store = runtime.store
    colleague = store.users.get(to.strip()) if to.strip() else None
    if colleague is None or not colleague.active:
        raise ActionRefused("Choose a colleague with an active account.")
    with store.transaction():
        before = store.work.get(_id(referral))["claimed_by"]
        if before == colleague.email:
            return f"{referral.reference} is already with {colleague.email}."
        store.work.set(_id(referral), claimed_by=colleague.email, claimed_at=utcnow())
        store.audit(
            actor,
            "referral.assigned",
            referral_id=referral.id,
            detail={"from": before, "to": colleague.email},
        )
        if colleague.email != actor:
            store.desk.notify(
                colleague.email, f"{actor} assigned {referral.reference} to you.", referral.id
            )
        if before and before not in (actor, colleague.email):
            store.desk.notify(
                before,
                f"{actor} reassigned {referral.reference} from you to {colleague.email}.",
                referral.id,
            )
    return f"Assigned to {colleague.email}."


def unclaim(runtime: Runtime, referral: Referral, actor: str) -> str:
    store = runtime.store
    with store.transaction():
        store.work.set(_id(referral), claimed_by=None, claimed_at=None)
        store.audit(actor, "referral.unclaimed", referral_id=referral.id)
    return "Claim released."


# -- deciding ---------------------------------------------------------------------------------


def set_urgency(runtime: Runtime, referral: Referral, actor: str, urgency: str, reason: str) -> str:
    """An advocate's urgency, with their reason; it stands against later automatic screening.

    Sends an `updated` event; a raise to emergency alerts on-call; a change is kept as a
    correction of screening (`store.corrections`)."""
    if urgency not in URGENCIES:
        raise ActionRefused("Choose an urgency.")
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        raise ActionRefused("Give a reason for changing the urgency.")
    store = runtime.store
    with store.transaction():
        before = store.lock_referral(_id(referral)).urgency  # as it is now, not as the page saw
        store.update_referral(
            _id(referral), urgency=urgency, urgency_decided_by=actor, new_message_at=None
        )
        store.audit(
            actor,
            "referral.urgency_changed",
            referral_id=referral.id,
            detail={"from": before, "to": urgency, "reason": reason},
        )
        if before != urgency:
            store.corrections.record(_id(referral), actor, "urgency", before, urgency, reason)
    said = f"Urgency changed to {urgency}."
    if urgency == "emergency" and more_urgent(urgency, before):
        said += _alert_on_call(runtime, referral)
    return said + _tell_case_system(runtime, referral)


def _alert_on_call(runtime: Runtime, referral: Referral) -> str:
    """Queue the on-call alert for a raise by hand (sent at once if the queue is down)."""
    occasion = f"raised-{utcnow():%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
    settings = runtime.settings
    if not settings.oncall_duty_contacts:
        return ""
    try:
        enqueue(
            settings,
            runtime.redis,
            ALERT_EMERGENCY,
            referral.reference,
            occasion,
            priority="high",
            job_id=safe_job_id(settings.queue_prefix, "alert", referral.reference, occasion),
            retry=INBOUND_RETRY,
        )
        return " On-call is being alerted."
    except QueueUnavailable:
        pass
    fresh = runtime.store.get_referral_by_id(_id(referral))
    assert fresh is not None
    try:
        alerts.alert_emergency(runtime, fresh, why="raised", occasion=occasion)
    except Unreachable:
        log.error("on-call alert for %s could not be sent or queued", referral.reference)
        return " On-call could NOT be alerted (the provider and the queue are down): call them."
    return " On-call has been alerted."


def correct_categories(
    runtime: Runtime, referral: Referral, actor: str, categories: Collection[str], reason: str
) -> str:
    """Set the safeguarding categories an advocate judges right, with their reason.

    `categories` are names from the screening lexicon (`intake.screening.lexicon.CATEGORIES`);
    an empty collection says there is no safeguarding concern. Audited as
    `referral.categories_corrected`, kept as a correction of screening, and sends an `updated`
    event (the case system shows the categories, FHIR as Flags).
    """
    chosen = sorted(set(categories))
    unknown = [c for c in chosen if c not in CATEGORIES]
    if unknown:
        raise ActionRefused(f"Unknown safeguarding category: {', '.join(unknown)}.")
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        raise ActionRefused("Give a reason for correcting the safeguarding categories.")
    store = runtime.store
    with store.transaction():
        before = sorted(store.lock_referral(_id(referral)).safeguarding)
        if before == chosen:
            return "No change to the safeguarding categories."
        store.update_referral(_id(referral), safeguarding=chosen)
        store.corrections.record(_id(referral), actor, "safeguarding", before, chosen, reason)
        store.audit(
            actor,
            "referral.categories_corrected",
            referral_id=referral.id,
            detail={"from": before, "to": chosen, "reason": reason},
        )
    said = "Safeguarding categories corrected." if chosen else "Safeguarding categories removed."
    return said + _tell_case_system(runtime, referral)


def mark_triaged(runtime: Runtime, referral: Referral, actor: str) -> str:
    store = runtime.store
    with store.transaction():
        store.work.set(_id(referral), triaged_by=actor, triaged_at=utcnow())
        store.update_referral(_id(referral), status="triaged", new_message_at=None)
        store.audit(actor, "referral.triaged", referral_id=referral.id)
    return "Marked as triaged." + _tell_case_system(runtime, referral)


def close(runtime: Runtime, referral: Referral, actor: str, outcome: str) -> str:
    if outcome not in OUTCOMES:
        raise ActionRefused("Choose an outcome.")
    store = runtime.store
    with store.transaction():
        store.work.set(_id(referral), outcome=outcome, closed_by=actor, closed_at=utcnow())
        store.update_referral(_id(referral), status="closed", new_message_at=None)
        store.audit(actor, "referral.closed", referral_id=referral.id, detail={"outcome": outcome})
    return f"Closed: {outcome}." + _tell_case_system(runtime, referral)


def reopen(runtime: Runtime, referral: Referral, actor: str, reason: str) -> str:
    if referral.status != "closed":
        raise ActionRefused("Only a closed referral can be reopened.", 409)
    if isinstance(referral.fields.get("merged_into"), str):
        raise ActionRefused(
            f"This referral was merged into {referral.fields['merged_into']}: open that one.", 409
        )
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        raise ActionRefused("Give a reason for reopening.")
    store = runtime.store
    with store.transaction():
        store.work.set(_id(referral), outcome=None, closed_by=None, closed_at=None)
        store.update_referral(_id(referral), status="open")
        store.audit(actor, "referral.reopened", referral_id=referral.id, detail={"reason": reason})
    return "Reopened." + _tell_case_system(runtime, referral)


# -- recording ----------------------------------------------------------------------------------


def add_note(runtime: Runtime, referral: Referral, actor: str, body: str) -> str:
    body = body.strip()[:MAX_NOTE]
    if not body:
        raise ActionRefused("The note is empty.")
    store = runtime.store
    with store.transaction():
        store.work.add_note(_id(referral), actor, body)
        store.audit(actor, "referral.note_added", referral_id=referral.id)
    return "Note added."


def edit_field(
    runtime: Runtime,
    referral: Referral,
    actor: str,
    name: str,
    value: str,
    *,
    shown: Mapping[str, Any],
    editable: Collection[str] = (),
) -> str:
    """Change one extracted field. `shown` is the flat field map the advocate saw; `editable`
    names fields that may be set though not yet known.

    The value goes into the referral's `fields` document as it is when the change is made (under
    `fields` when extraction nests them there), with its history row and audit entry, in one
    transaction: a message absorbed while the advocate was typing keeps what it added.
    """
    value = value.strip()[:MAX_FIELD]
    if not name or (name not in shown and name not in editable):
        raise ActionRefused("Unknown field.")
    store = runtime.store
    with store.transaction():
        document = dict(store.lock_referral(_id(referral)).fields)
        nested = isinstance(document.get("fields"), dict)
        old = (document["fields"] if nested else document).get(name)
        old_text = "" if old is None else str(old)
        if old_text == value:
            return "No change."
        if nested:
            document["fields"] = {**document["fields"], name: value}
        else:
            document[name] = value
        store.update_referral(_id(referral), fields=document)
        store.work.record_field_edit(
            _id(referral), name, None if old is None else old_text, value, actor
        )
        store.audit(
            actor,
            "referral.field_edited",
            referral_id=referral.id,
            detail={"field": name, "from": old, "to": value},
        )
    return f"{name.replace('_', ' ').capitalize()} updated." + _tell_case_system(runtime, referral)


# -- duplicates -----------------------------------------------------------------------------------


def decide_link(
    runtime: Runtime, referral: Referral, actor: str, link_id: int, *, confirm: bool
) -> str:
    """Confirm (merge the newer into the older) or reject a suggested duplicate touching this
    referral."""
    store = runtime.store
    link = next((k for k in store.links.touching(_id(referral)) if k["id"] == link_id), None)
    if link is None:
        raise ActionRefused("No such link on this referral.", 404)
    if not confirm:
        with store.transaction():
            decided = store.links.decide(link_id, "rejected", actor)
            if decided:
                store.audit(actor, "referral.link_rejected", referral_id=link["referral_id"])
        return "Marked as not the same person." if decided else "That link was already decided."
    newer = store.get_referral_by_id(link["referral_id"])
    assert newer is not None
    with store.transaction():
        kept = merge.confirm(runtime, link, actor)
        if kept is not None:
            store.audit(
                actor,
                "referral.merged",
                referral_id=kept.id,
                detail={"from": newer.reference, "link": link_id},
            )
    if kept is None:
        return "That link was already decided."
    _tell_case_system(runtime, newer)  # now closed, merged into the other
    return f"Merged into {kept.reference}." + _tell_case_system(runtime, kept)


def close_incident(runtime: Runtime, incident_id: int, actor: str) -> str:
    """Mark a flood incident as dealt with: its notice leaves the queue page (its referrals stay,
    each with its own status)."""
    store = runtime.store
    if store.incidents.get(incident_id) is None:
        raise ActionRefused("No such incident.", 404)
    with store.transaction():
        closed = store.incidents.close(incident_id, actor)
        if closed:
            store.audit(actor, "incident.closed", detail={"incident": incident_id})
    return "Marked as dealt with." if closed else "That incident was already closed."


# -- the case system ------------------------------------------------------------------------------


def forward(runtime: Runtime, referral: Referral, actor: str) -> str:
    """Send again what could not be delivered, and bring the case system up to date."""
    try:
        forwarding.replay(runtime, referral.reference)
        fresh = runtime.store.get_referral_by_id(_id(referral))
        assert fresh is not None
        scheduled = forwarding.bring_up_to_date(runtime, fresh)
    except QueueUnavailable as exc:
        runtime.store.audit(
            actor, "referral.forward_failed", referral_id=referral.id, detail={"error": "queue"}
        )
        raise ActionRefused("The queue is unavailable: try again in a minute.", 503) from exc
    runtime.store.audit(
        actor, "referral.forward_requested", referral_id=referral.id, detail={"event": scheduled}
    )
    if not forwarding.remote_forwarders(runtime.settings):
        return "This referral is kept here: no case system is configured to send it to."
    return "Queued for the case system."


# -- writing to the person ------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A reply as it will be sent: `text` the words, `body` exactly what the channel sends (an
    email's whole message with its headers; a text's words)."""

    channel: str
    to: str
    template: str
    text: str
    body: str


def draft_reply(
    runtime: Runtime,
    referral: Referral,
    *,
    channel: str,
    to: str,
    template: str = "",
    text: str = "",
) -> Draft:
    """Compose a reply without sending it (the preview), from a template or free text.

    Templates in `templates/replies/` are rendered with `channel`, so their wording fits it
    ("reply to this email", "reply to this text"). Free text by email is framed by
    `templates/reply_frames/email.txt` (the organisation and the reference); by text it goes as
    written. Raises `ActionRefused` for an unknown template, empty or over-long text.
    """
    settings = runtime.settings
    context = {
        "reference": referral.reference,
        "org_name": settings.org_name,
        "crisis_line": settings.crisis_line,
        "channel": channel,
    }
    if template:
        names = {name for name, _title in titled(settings.templates_dir, REPLY_DIR)}
        if template not in names:
            raise ActionRefused("Choose a reply template.")
        if template in voice_reply_templates() and not voice_call_back(referral.fields):
            # Accessible Information Standard: a BSL user or a deaf person is never offered
            # a voice call.
            raise ActionRefused(
                "This person cannot take voice calls (see their communication needs): "
                "choose another reply."
            )
        # In the person's language when the template is translated (templates/lang/<code>/),
        # else English with their language's line "write in your language".
        words = acknowledge.localized(
            settings, f"{REPLY_DIR}/{template}.txt", referral, **context
        ).text
    else:
        written = text.strip()
        if not written:
            raise ActionRefused("Choose a reply template or write a reply.")
        limit = MAX_REPLY.get(channel, MAX_REPLY["sms"])
        if len(written) > limit:
            raise ActionRefused(f"The reply is too long: at most {limit} characters here.")
        frame = f"{FRAME_DIR}/{channel}.txt"
        words = (
            render_text(settings.templates_dir, frame, text=written, **context)
            if (settings.templates_dir / frame).exists()
            else written
        )
    sender = runtime.channels.get(channel)
    body = sender.compose(runtime, to, words, referral=referral, kind="reply")
    return Draft(channel=channel, to=to, template=template, text=words, body=body)


def reply(
    runtime: Runtime,
    referral: Referral,
    actor: str,
    *,
    channel: str,
    to: str,
    template: str = "",
    text: str = "",
    nonce: str,
) -> str:
    """Send a reply from a template or free text on `channel` to `to` (what the page showed as
    possible), at most once per `nonce` (a form sent twice sends once). Audited as
    `referral.replied`; no `updated` event (replies stay in intake)."""
    draft = draft_reply(runtime, referral, channel=channel, to=to, template=template, text=text)
    what = {"template": template} if template else {"free_text": True}
    try:
        result = outbound.send(
            runtime,
            channel=channel,
            to=to,
            body=draft.body,
            kind="reply",
            referral_id=referral.id,
            dedupe_key=f"reply:{referral.reference}:{nonce}",
            audit_sent="referral.replied",
            actor=actor,
            audit_detail={**what, "channel": channel, "status": "sent"},
        )
    except Unreachable as exc:
        runtime.store.audit(
            actor,
            "referral.reply_failed",
            referral_id=referral.id,
            detail={**what, "error": str(exc)[:200]},
        )
        return "The reply could not be sent just now (the provider did not answer). Try again."
    if result.status != "sent":
        runtime.store.audit(
            actor,
            "referral.replied",
            referral_id=referral.id,
            detail={**what, "channel": channel, "status": result.status},
        )
    return {
        "sent": "Reply sent.",
        "duplicate": "That reply was already sent.",
        "rejected": f"The provider refused the reply: {result.detail}",
        "suppressed": "Not sent: the person has opted out of messages.",
    }.get(result.status, result.status)


# -- many at once -------------------------------------------------------------------------------


def bulk(
    runtime: Runtime,
    references: Collection[str],
    actor: str,
    action: str,
    *,
    outcome: str = "",
    to: str = "",
) -> str:
    """Close (with one outcome), assign (to one colleague) or claim several referrals: each is
    its own action above, with its own transaction, audit entry and events, so one that cannot
    be done (already closed, gone) never undoes the others. Returns one sentence for them all."""
    if action not in BULK_ACTIONS:
        raise ActionRefused("Choose what to do with the selected referrals.")
    chosen = list(dict.fromkeys(r.strip().upper() for r in references if r.strip()))
    if not chosen:
        raise ActionRefused("Select at least one referral.")
    if len(chosen) > MAX_BULK:
        raise ActionRefused(f"Select at most {MAX_BULK} referrals at once.")
    if action == "close" and outcome not in OUTCOMES:
        raise ActionRefused("Choose an outcome.")
    done: list[str] = []
    skipped: list[str] = []
    for reference in chosen:
        referral = runtime.store.get_referral(reference)
        if referral is None or (action == "close" and referral.status == "closed"):
            skipped.append(reference)
            continue
        if action == "close":
            close(runtime, referral, actor, outcome)
        elif action == "assign":
            assign(runtime, referral, actor, to)
        else:
            claim(runtime, referral, actor)
        done.append(reference)
    verb = {"close": "Closed", "assign": f"Assigned to {to.strip()}:", "claim": "Claimed"}[action]
    said = f"{verb} {len(done)} referral{'' if len(done) == 1 else 's'}."
    if skipped:
        said += f" Left alone (closed already or not found): {', '.join(skipped)}."
    return said
