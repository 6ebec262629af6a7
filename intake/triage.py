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

Each function returns the sentence the advocate sees, and raises `ActionRefused` (with an HTTP
status for the web layer) when the request cannot be done as asked.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Mapping
from typing import Any

from intake import alerts, forwarding, merge, outbound
from intake.failures import Unreachable
from intake.models import URGENCIES, Referral, more_urgent, utcnow
from intake.queue import ALERT_EMERGENCY, INBOUND_RETRY, QueueUnavailable, enqueue, safe_job_id
from intake.runtime import Runtime
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
    store = runtime.store
    with store.transaction():
        store.work.set(_id(referral), claimed_by=actor, claimed_at=utcnow())
        store.audit(actor, "referral.claimed", referral_id=referral.id)
    return "You have claimed this referral."


def unclaim(runtime: Runtime, referral: Referral, actor: str) -> str:
    store = runtime.store
    with store.transaction():
        store.work.set(_id(referral), claimed_by=None, claimed_at=None)
        store.audit(actor, "referral.unclaimed", referral_id=referral.id)
    return "Claim released."


# -- deciding ---------------------------------------------------------------------------------


def set_urgency(runtime: Runtime, referral: Referral, actor: str, urgency: str, reason: str) -> str:
    """An advocate's urgency, with their reason; it stands against later automatic screening."""
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


def reply(
    runtime: Runtime,
    referral: Referral,
    actor: str,
    *,
    channel: str,
    to: str,
    template: str,
    nonce: str,
) -> str:
    """Send a reply from a template on `channel` to `to` (what the page showed as possible),
    at most once per `nonce` (a form sent twice sends once)."""
    names = {name for name, _title in titled(runtime.settings.templates_dir, REPLY_DIR)}
    if template not in names:
        raise ActionRefused("Choose a reply template.")
    settings = runtime.settings
    text = render_text(
        settings.templates_dir,
        f"{REPLY_DIR}/{template}.txt",
        reference=referral.reference,
        org_name=settings.org_name,
        crisis_line=settings.crisis_line,
    )
    sender = runtime.channels.get(channel)
    body = sender.compose(runtime, to, text, referral=referral, kind="reply")
    try:
        result = outbound.send(
            runtime,
            channel=channel,
            to=to,
            body=body,
            kind="reply",
            referral_id=referral.id,
            dedupe_key=f"reply:{referral.reference}:{nonce}",
            audit_sent="referral.replied",
            actor=actor,
            audit_detail={"template": template, "channel": channel, "status": "sent"},
        )
    except Unreachable as exc:
        runtime.store.audit(
            actor,
            "referral.reply_failed",
            referral_id=referral.id,
            detail={"template": template, "error": str(exc)[:200]},
        )
        return "The reply could not be sent just now (the provider did not answer). Try again."
    if result.status != "sent":
        runtime.store.audit(
            actor,
            "referral.replied",
            referral_id=referral.id,
            detail={"template": template, "channel": channel, "status": result.status},
        )
    return {
        "sent": "Reply sent.",
        "duplicate": "That reply was already sent.",
        "rejected": f"The provider refused the reply: {result.detail}",
        "suppressed": "Not sent: the person has opted out of messages.",
    }.get(result.status, result.status)
