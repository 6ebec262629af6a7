"""One inbound message's way from the queue to a stored, forwarded, acknowledged referral.

The same steps for every channel; a channel takes part only through the hooks of its port
(`intake.channel`):

    receive(channel, payload)          the RQ job `intake.tasks.receive`
      channel.accept                   payload -> InboundMessage (or Handled), under its lock
      channel.intercept                a message that is not part of a referral (SMS keywords)
      place:
        already stored?                a re-run finishes what is left; a revised message
                                       (a voicemail's transcript) is absorbed again
        merge.place                    the one merge policy: the referral the channel's thread
                                       or a quoted reference names, if the message may join it
        absorb                         a later message: `intake.absorb`, the one policy
        create                         else a new referral (screened and extracted, pure),
                                       linked to any it may belong with, for a person
      alert                            on-call, when it is or became an emergency
      forward                          the case system: `created`, then `updated` on changes
      channel.respond                  the acknowledgement or the next question

Everything is idempotent, because RQ may run a job twice (a retry after the database was down, a
worker killed mid-job, a webhook delivered twice): the message's provider id is unique in the
store, so a second run finds what the first one made and only finishes what is left; every
outbound message and forward event is claimed under a unique key before it is sent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from intake import absorb, alerts, deadlines, flood, forwarding, languages, merge, queue
from intake.channel import BaseChannel, Handled, Outcome, Thread
from intake.extraction import extract
from intake.extraction.eligibility import received_day
from intake.failures import Unreachable
from intake.models import SYSTEM_ACTOR, InboundMessage, Referral
from intake.reference import new_reference
from intake.runtime import Runtime
from intake.screening import screen
from intake.store import DuplicateMessage, ReferenceTaken

log = logging.getLogger(__name__)

MERGED_INTO = merge.MERGED_INTO
# Keys the pipeline adds to a stored message's meta (the rest is the channel's own).
JOINED_BY, PENDING, FACTS, FLOOR, ALERT = "joined_by", "pending", "facts", "urgency_floor", "alert"
PLACEHOLDER = "placeholder"
# Files whose text is still to be read (`intake.documents.job`), and the channel's review reason.
READING, REVIEW = "reading", "review_reason"
OWN_META = (JOINED_BY, PENDING, FACTS, FLOOR, ALERT, PLACEHOLDER, READING, REVIEW)


@dataclass(frozen=True)
class Result:
    """What one job did (RQ keeps it as the job's result; no message text in it)."""

    reference: str | None
    created: bool
    acknowledgement: str
    joined_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def receive(runtime: Runtime, channel_name: str, payload: Mapping[str, Any]) -> Result:
    """Take one queued inbound payload of `channel_name` all the way through.

    On one database connection (`Store.pinned`): the job's reads share it, each write
    transaction commits on it."""
    channel = runtime.channels.get(channel_name)
    with runtime.store.pinned(), channel.accept(runtime, payload) as accepted:
        if isinstance(accepted, Handled):
            return Result(accepted.reference, created=False, acknowledgement=accepted.outcome)
        return process(runtime, channel, accepted)


def process(runtime: Runtime, channel: BaseChannel, message: InboundMessage) -> Result:
    """The steps after `accept`, for a message the channel has turned into an `InboundMessage`."""
    handled = channel.intercept(runtime, message)
    if handled is not None:
        return Result(handled.reference, created=False, acknowledgement=handled.outcome)
    return finish(runtime, channel, message)


def finish(runtime: Runtime, channel: BaseChannel, message: InboundMessage) -> Result:
    """Place, alert, forward and respond: what every message (and every revision) goes through."""
    outcome = place(runtime, channel, message)
    if any(item.unread for item in message.attachments):
        _queue_reading(runtime, outcome)
    alert_failed = _alert(runtime, outcome, channel)
    _forward(runtime, outcome)
    acknowledgement = channel.respond(runtime, outcome)
    referral = outcome.referral
    log.info(
        "referral %s %s from %s: urgency %s, acknowledgement %s",
        referral.reference,
        _what_happened(outcome),
        message.channel,
        referral.urgency,
        acknowledgement,
    )
    if alert_failed is not None:
        raise alert_failed  # the job's retry sends it; every step above is idempotent
    return Result(
        referral.reference,
        created=outcome.created and outcome.first_run,
        acknowledgement=acknowledgement,
        joined_by=outcome.how,
    )


def _queue_reading(runtime: Runtime, outcome: Outcome) -> None:
    """Queue the job that reads the message's files in the sandbox (`intake.documents.job`).

    Queued on every run (a re-run may follow a crash before the first queueing); the job does
    nothing once the files are read. Urgent referrals' files are read first.
    """
    settings, message = runtime.settings, outcome.message
    urgent = outcome.referral.urgency in ("emergency", "urgent")
    digest = hashlib.sha256(message.provider_id.encode("utf-8", "replace")).hexdigest()[:32]
    queue.enqueue(
        settings,
        runtime.redis,
        queue.READ_ATTACHMENTS,
        message.channel,
        message.provider_id,
        priority="high" if urgent else "default",
        # A digest, not the id itself: two ids that differ only in characters RQ refuses must
        # not share a job (and so each other's arguments).
        job_id=queue.safe_job_id(settings.queue_prefix, "read", message.channel, digest),
        retry=queue.INBOUND_RETRY,
    )


def revise_with_files(
    runtime: Runtime,
    channel_name: str,
    stored: Mapping[str, Any],
    texts: list[tuple[str, str | None]],
) -> Result:
    """Hand a stored message back to the pipeline with its files' text at the end, as a revision
    (`intake.documents.job`): screened and extracted again, then forwarded and acknowledged if it
    was waiting for them. A file's text already in the message (plain text, read at once) is not
    added twice."""
    body = str(stored["body"] or "")
    for filename, text in texts:
        label = f"[Attachment: {filename}]"
        if text and label not in body:
            body = "\n\n".join(piece for piece in (body, f"{label}\n{text}") if piece)
    meta = dict(stored["meta"] or {})
    message = InboundMessage(
        channel=channel_name,
        provider_id=str(stored["provider_id"]),
        sender=str(stored["sender"]),
        recipient=str(stored["recipient"]),
        body=body,
        received_at=stored["received_at"],
        meta={k: v for k, v in meta.items() if k not in OWN_META},
        urgency_floor=meta.get(FLOOR),
        review_reason=meta.get(REVIEW),
        facts=dict(meta.get(FACTS) or {}),
        placeholder=bool(meta.get(PLACEHOLDER)),
    )
    with runtime.store.pinned():
        return finish(runtime, runtime.channels.get(channel_name), message)


UNPROCESSED = "unprocessed"


def store_unprocessed(
    runtime: Runtime, channel_name: str, payload: Mapping[str, Any], reason: str
) -> str | None:
    """Keep a message whose job could not finish (`intake.tasks.receive_failed`): never lost.

    The channel turns the payload into a message without the work that failed
    (`BaseChannel.unprocessed`: no deep parsing, no fetching); it is stored as it came, not
    screened or extracted, at least urgent, with a review reason for a person, and nothing is
    sent to the sender (whether it is safe to is not known). If the message was stored before
    the job failed, that referral is flagged instead. Returns the reference, or None when the
    channel has nothing to keep (a voicemail's call row already is).
    """
    channel = runtime.channels.get(channel_name)
    message = channel.unprocessed(runtime, payload)
    if message is None:
        return None
    store = runtime.store
    review = f"not screened: {reason}; read it. Nothing was sent to the sender."
    existing = store.find_referral_for_message(message.channel, message.provider_id)
    if existing is not None:
        assert existing.id is not None
        screening = {**existing.screening, "needs_review": True, "review_reason": review}
        with store.transaction():
            store.update_referral(existing.id, screening=screening)
            store.raise_urgency(existing.id, "urgent")
            store.audit(
                SYSTEM_ACTOR,
                "referral.unprocessed",
                referral_id=existing.id,
                detail={"reason": reason},
            )
        log.error("referral %s flagged: %s", existing.reference, reason)
        return existing.reference
    flagged = dataclasses.replace(
        message,
        urgency_floor="urgent",
        review_reason=review,
        meta={**message.meta, UNPROCESSED: reason},
    )
    screening = absorb.screening_with_floor(screen(""), flagged)
    draft = Referral(
        reference=new_reference(),
        channel=message.channel,
        sender=message.sender,
        received_at=message.received_at,
        raw_text=message.body,
        urgency=str(screening["urgency"]),
        screening=screening,
        fields={},
    )
    referral, created = _create(runtime, draft, flagged)
    if created:
        assert referral.id is not None
        store.audit(
            SYSTEM_ACTOR, "referral.unprocessed", referral_id=referral.id, detail={"reason": reason}
        )
        forwarding.bring_up_to_date(runtime, referral)
    log.error("referral %s stored unscreened: %s", referral.reference, reason)
    return referral.reference


def _what_happened(outcome: Outcome) -> str:
    if not outcome.first_run:
        return "already stored"
    if outcome.created:
        return "created"
    return f"joined ({outcome.how})"


# -- where the message belongs ----------------------------------------------------------------


def build_referral(
    message: InboundMessage, deadline_urgent_days: int = deadlines.DEFAULT_URGENT_DAYS
) -> Referral:
    """Screen and extract (pure): a new referral as this message alone makes it. A statutory
    deadline on its eligibility card within `deadline_urgent_days` makes it at least urgent
    (`intake.deadlines.apply`)."""
    said = "" if message.placeholder else message.body
    screening = screen(said, message.channel)
    extraction = extract(said, message.channel, message.sender, received_at=message.received_at)
    fields = {**extraction.to_dict(), **message.facts}
    stored = absorb.screening_with_floor(screening, message)
    today = received_day(message.received_at)
    stored = deadlines.apply(stored, fields, today, deadline_urgent_days)
    safe = screening.safe_to_contact and fields.get("safe_to_contact", True) is not False
    return Referral(
        reference=new_reference(),
        channel=message.channel,
        sender=message.sender,
        received_at=message.received_at,
        raw_text=message.body,
        urgency=str(stored["urgency"]),
        safeguarding=list(screening.safeguarding),
        screening=stored,
        fields=fields,
        safe_to_contact=safe,
        language=languages.detect(said) if said else None,
        language_preference=fields.get("language_preference"),
    )


def place(runtime: Runtime, channel: BaseChannel, message: InboundMessage) -> Outcome:
    """Store the message: with the earlier referral the one merge policy lets it join
    (`intake.merge.place`), else as a new referral linked to any it may belong with."""
    store = runtime.store
    existing = store.find_referral_for_message(message.channel, message.provider_id)
    if existing is not None:
        return _again(runtime, existing, message)
    draft = build_referral(message, runtime.settings.deadline_urgent_days)
    if draft.language_preference is None:
        # A preference this address stated before holds for its new referrals too.
        draft.language_preference = store.language_preference_for(message.sender)
    placement = merge.place(runtime, channel, message)
    thread, how = placement.thread, placement.how
    if placement.referral is not None:
        assert how is not None
        try:
            referral, raised, alert = absorb_message(
                runtime, placement.referral, message, how=how, thread=thread, channel=channel
            )
        except DuplicateMessage:  # a racing run of the same job stored it first
            found = store.find_referral_for_message(message.channel, message.provider_id)
            assert found is not None
            return Outcome(found, message, created=False, joined=True, first_run=False, how=how)
        return Outcome(
            referral,
            message,
            created=False,
            joined=True,
            first_run=True,
            how=how,
            raised_to=raised,
            thread=thread,
            alert=alert,
        )
    # One transaction: the referral, its message, search terms, audit entry and its links, so
    # a crash leaves either all of them or none (a re-run then makes them all).
    with store.transaction():
        referral, created = _create(runtime, draft, message)
        if created:
            # possible duplicates and what the message named: linked for a person, never merged
            merge.link_possible(runtime, referral, placement.links)
    return Outcome(referral, message, created=True, joined=False, first_run=created)


def _again(runtime: Runtime, referral: Referral, message: InboundMessage) -> Outcome:
    """The message is stored already: a re-run, or a revision of a message still pending."""
    store = runtime.store
    assert referral.id is not None
    stored = store.get_message(message.channel, message.provider_id)
    assert stored is not None
    meta = stored["meta"] or {}
    first = not meta.get(JOINED_BY)  # the message that made the referral (not merely its oldest)
    # A message may be revised while more of it was to come (a transcript), and whenever the
    # facts its channel is sure of change (the recording's length, after the transcript came).
    incomplete = meta.get(PENDING) or meta.get(PLACEHOLDER) or meta.get(READING)
    facts_changed = (meta.get(FACTS) or {}) != message.facts
    if (incomplete or facts_changed) and _revised(stored, message):
        new_text = stored["body"] != message.body
        updated, raised, alert = absorb_message(
            runtime, referral, message, how="revision", revise=True, new_text=new_text
        )
        return Outcome(
            updated,
            message,
            created=first,
            joined=True,
            first_run=True,
            how="revision",
            raised_to=raised,
            alert=alert,
        )
    if first:
        merge.link_possible(runtime, referral)  # idempotent: a crash may have cut it short
    how = None if first else str(meta.get(JOINED_BY) or "")
    return Outcome(
        referral,
        message,
        created=first,
        joined=not first,
        first_run=False,
        how=how,
        alert=meta.get(ALERT),
    )


def _revised(stored: Mapping[str, Any], message: InboundMessage) -> bool:
    """Whether `message` says more than the stored version of it (a re-run says the same)."""

    def content(meta: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in meta.items() if k not in (JOINED_BY, ALERT)}

    fresh = _stored_meta(message, None)
    return stored["body"] != message.body or content(stored["meta"] or {}) != content(fresh)


def _stored_meta(message: InboundMessage, how: str | None) -> dict[str, Any]:
    """The meta a message is stored with: the channel's, and the pipeline's own keys (what made
    it join, whether more is to come, the channel's facts and floor)."""
    meta = {k: v for k, v in message.meta.items() if k not in OWN_META}
    if how is not None:
        meta[JOINED_BY] = how
    if message.pending:
        meta[PENDING] = True
    if message.facts:
        meta[FACTS] = message.facts
    if message.urgency_floor:
        meta[FLOOR] = message.urgency_floor
    if message.placeholder:
        meta[PLACEHOLDER] = True
    if any(item.unread for item in message.attachments):
        meta[READING] = True
    if message.review_reason:
        meta[REVIEW] = message.review_reason
    return meta


def _create(runtime: Runtime, draft: Referral, message: InboundMessage) -> tuple[Referral, bool]:
    """Insert the draft with its first message; (the referral, whether this run made it)."""
    store = runtime.store
    stored = dataclasses.replace(message, meta=_stored_meta(message, None))
    for _attempt in range(5):
        try:
            return store.create_referral(draft, stored), True
        except DuplicateMessage:
            found = store.find_referral_for_message(message.channel, message.provider_id)
            assert found is not None
            return found, False
        except ReferenceTaken:
            draft.reference = new_reference()  # a clash of random references: rare
    raise RuntimeError("could not allocate a unique reference")


def _conversation(
    messages: list[dict[str, Any]], message: InboundMessage, *, revise: bool
) -> tuple[str, str]:
    """(what is shown, what was said) of a referral's messages with `message` among them.

    What was said leaves out placeholder notes ("transcript pending"); a revision replaces its
    stored version, a new message comes last.
    """
    rows = [
        (m["provider_id"], m["body"], bool((m["meta"] or {}).get(PLACEHOLDER))) for m in messages
    ]
    if revise or any(pid == message.provider_id for pid, _b, _p in rows):
        rows = [
            (pid, message.body, message.placeholder) if pid == message.provider_id else (pid, b, p)
            for pid, b, p in rows
        ]
    else:
        rows.append((message.provider_id, message.body, message.placeholder))
    shown = "\n".join(body for _pid, body, _p in rows if body)
    said = "\n".join(body for _pid, body, placeholder in rows if body and not placeholder)
    return shown, said


def absorb_message(
    runtime: Runtime,
    referral: Referral,
    message: InboundMessage,
    *,
    how: str,
    thread: Thread | None = None,
    channel: BaseChannel | None = None,
    revise: bool = False,
    new_text: bool = True,
) -> tuple[Referral, str | None, str | None]:
    """Add `message` to `referral` (or, with `revise`, replace its stored version) under the one
    absorb policy (`intake.absorb`). `new_text` is False for a revision that changes only the
    channel's facts (nothing new was said). With `thread`, `channel.joined` runs in the same
    transaction (the SMS conversation notes the answer), so a re-run never finds one without
    the other.

    The conversation is screened and extracted before the transaction opens (screening is the
    slow part, and SQLite's write lock is not held for it); inside, the referral is read again
    and locked, and the decision is made on it as it is now, so an advocate's change made
    meanwhile is neither overwritten nor ignored. If another message joined meanwhile, the
    conversation is screened again inside.

    Returns the referral as it now is, the urgency it was raised to (if it was) and why on-call
    must hear (`escalated`, `screened` or None). Everything is written in one transaction; the
    alert reason is kept in the stored message's meta, so a re-run of the job still sends it.
    Raises `DuplicateMessage` when the message is stored already (a re-run).
    """
    store = runtime.store
    assert referral.id is not None
    stored = dataclasses.replace(message, meta=_stored_meta(message, None if revise else how))
    _shown, said = _conversation(store.messages_for(referral.id), message, revise=revise)
    screening = screen(said, message.channel)
    # relative dates ("sectioned yesterday") are read against this message's arrival
    extracted = extract(
        said, message.channel, message.sender, received_at=message.received_at
    ).to_dict()
    with store.transaction():
        if revise:
            store.replace_message(stored)
        else:
            store.add_message(referral.id, stored)
        current = store.lock_referral(referral.id)
        shown, now_said = _conversation(store.messages_for(referral.id), message, revise=True)
        if now_said != said:  # another message joined between the reads: screen all of it
            screening = screen(now_said, message.channel)
            extracted = extract(
                now_said, message.channel, message.sender, received_at=message.received_at
            ).to_dict()
        change = absorb.decide(
            current,
            message,
            screening,
            extracted,
            how=how,
            answer=thread.answer if thread else None,
            answered=thread.answered if thread else None,
            new_text=new_text,
            deadline_urgent_days=runtime.settings.deadline_urgent_days,
        )
        raised = None
        if change.raise_to and store.raise_urgency(referral.id, change.raise_to):
            raised = change.raise_to
        # "escalated" only when this message's raise is the one that made it an emergency
        # (another message may have raised it first, and alerted for itself); a revision's first
        # alert is the "new" one.
        alert = "screened" if change.alert == "screened" else None
        if raised == "emergency" and not revise:
            alert = "escalated"
        if alert:
            store.replace_message(dataclasses.replace(stored, meta={**stored.meta, ALERT: alert}))
        values: dict[str, Any] = {
            "safeguarding": change.safeguarding,
            "screening": change.screening,
            "fields": change.fields,
            "safe_to_contact": change.safe_to_contact,
        }
        if revise:
            values["raw_text"] = shown
            if not current.sender and message.sender:
                values["sender"] = message.sender  # a caller known only from a later event
        if change.mark_new_message:
            values["new_message_at"] = message.received_at
        if change.reopen:
            values["status"] = absorb.REOPENED
        language, preference = _languages(current, now_said, extracted, thread)
        values["language"] = language
        if preference != current.language_preference:
            values["language_preference"] = preference
            store.audit(
                SYSTEM_ACTOR,
                "referral.language_preference",
                referral_id=referral.id,
                detail={"from": current.language_preference, "to": preference, "by": how},
            )
        store.update_referral(referral.id, **values)
        urgency = change.screening["urgency"]
        detail = {"channel": message.channel, "joined_by": how, "urgency": urgency}
        store.audit(SYSTEM_ACTOR, "referral.message_added", referral_id=referral.id, detail=detail)
        if raised:
            store.audit(
                SYSTEM_ACTOR,
                "referral.escalated",
                referral_id=referral.id,
                detail={"from": current.urgency, "to": raised, "by": how},
            )
        if change.reopen:
            store.audit(
                SYSTEM_ACTOR, "referral.reopened", referral_id=referral.id, detail={"by": how}
            )
        for action, extra in change.audit:
            store.audit(SYSTEM_ACTOR, action, referral_id=referral.id, detail=extra)
        updated = store.get_referral_by_id(referral.id)
        assert updated is not None
        if thread is not None and channel is not None:
            channel.joined(runtime, updated, message, thread)
    return updated, raised, alert


def _languages(
    current: Referral,
    said: str,
    extracted: dict[str, Any],
    thread: Thread | None,
) -> tuple[str | None, str | None]:
    """(language the conversation is in, the person's preference) after a message joined: an
    answer to our "which language?" question first, then a request in what they wrote, else
    what was recorded; a short later message that screening cannot place keeps the language."""
    answered = (thread.answer if thread else None) or {}
    preference = (
        answered.get("language_preference")
        or extracted.get("language_preference")
        or current.language_preference
    )
    return (languages.detect(said) if said else None) or current.language, preference


# -- what follows ------------------------------------------------------------------------------


def _alert(runtime: Runtime, outcome: Outcome, channel: BaseChannel) -> Unreachable | None:
    """On-call: when a referral arrives as an emergency, when a later message makes it one, and
    when a later message screens as one above a person's decision. Each is sent once per contact
    (its dedupe key), however often the job runs. A new referral is first counted towards a
    burst (`intake.flood`): in a flood, alerts are coalesced (`intake.alerts`)."""
    referral, occasion = outcome.referral, outcome.message.provider_id
    failed: Unreachable | None = None
    if outcome.created:
        try:
            flood.observe(runtime, referral)
        except Unreachable as exc:
            failed = exc
    sources = channel.sources(runtime, outcome.message)
    if outcome.alert in ("escalated", "screened"):
        why, occasion = outcome.alert, occasion
    elif outcome.created and referral.urgency == "emergency":
        why, occasion = "new", alerts.FIRST
    else:
        return failed
    return _try_alert(runtime, referral, why=why, occasion=occasion, sources=sources) or failed


def _try_alert(
    runtime: Runtime, referral: Referral, *, why: str, occasion: str, sources: tuple[str, ...]
) -> Unreachable | None:
    """Alert without holding up the rest of the job; the failure to raise once the rest is done."""
    try:
        alerts.alert_emergency(runtime, referral, why=why, occasion=occasion, sources=sources)
    except Unreachable as exc:
        log.error(
            "on-call alert for %s could not reach its provider; will retry", referral.reference
        )
        return exc
    return None


def _forward(runtime: Runtime, outcome: Outcome) -> None:
    """Hand the referral to the case system as it now is, unless more of it is on its way."""
    referral = outcome.referral
    if outcome.message.pending and referral.urgency != "emergency":
        return  # forwarded once complete; an emergency goes at once, and is updated later
    forwarding.bring_up_to_date(runtime, referral)


__all__ = [
    "Result",
    "Thread",
    "build_referral",
    "finish",
    "place",
    "process",
    "receive",
    "revise_with_files",
]
