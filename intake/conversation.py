"""Texts come in pieces: join them into one referral and ask, one at a time, for what is missing.

A text from a number that has an open SMS conversation whose last activity (a text in, or a
question out) is within `conversation_window_minutes` joins that referral instead of starting a
new one. The text is read as the answer to the question last asked (`interpret_answer`), the
whole conversation is screened and extracted again (urgency is never lowered automatically), the
referral is forwarded again as an update, and the next question is sent, if any.

Questions (`templates/questions/<key>.txt`, chosen by `intake.extraction.questions`):
- the first one rides on the acknowledgement, so a person gets one text back, not two;
- never on an emergency acknowledgement: that text carries the 999 advice and nothing else, and
  the referral is already forwarded; questions follow only if the person texts again;
- never when it is not safe to contact, the number opted out, or the referral was closed;
- at most `conversation_max_questions` per referral, each key at most once; a field extracted
  with confidence below `CONFIDENT` counts as missing.

STOP / START / HELP are handled here too, before anything else (`intake.optout`).
Each step is idempotent on the MessageSid: a re-run finds the stored message and only sends
what was not sent (questions and help texts are deduplicated in the outbound table).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import LockError, RedisError

from intake import acknowledge, alerts, merge, optout, outbound, ratelimit
from intake.extraction import extract
from intake.extraction.questions import interpret_answer, next_question, question_text
from intake.models import InboundMessage, Referral, utcnow
from intake.runtime import Runtime
from intake.store import Conversation, DuplicateMessage, Store
from intake.templating import render_text

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
CHANNEL = "sms"
CONFIDENT = 0.5
LOCK_SECONDS = 120


@dataclass(frozen=True)
class Handled:
    """What the conversation did with a text the pipeline should not treat as a new referral."""

    reference: str
    outcome: str


# -- storage ----------------------------------------------------------------------------------


def get(store: Store, referral_id: int) -> Conversation | None:
    return store.conversations.get(referral_id)


def open_conversation(
    store: Store, phone: str, at: datetime, window: timedelta
) -> Conversation | None:
    """The latest conversation with `phone` still open at `at` (last activity within `window`)."""
    return store.conversations.latest(optout.normalise_phone(phone), active_since=at - window)


def _update(store: Store, referral_id: int, **values: Any) -> None:
    conv = store.conversations.get(referral_id)
    if conv is not None:
        store.conversations.update(conv, **values)


def _touch(
    store: Store,
    conv: Conversation,
    at: datetime,
    *,
    audit: tuple[str, str, dict[str, Any]] | None = None,
    **values: Any,
) -> None:
    """Update the conversation; `audit` (actor, action, detail) goes in the same transaction."""
    store.conversations.update(conv, at=at, audit=audit, **values)


def start(runtime: Runtime, referral: Referral, message: InboundMessage) -> Conversation:
    """Open (or find) the conversation for an SMS referral's first text from this number."""
    assert referral.id is not None
    return runtime.store.conversations.start(
        referral.id, optout.normalise_phone(message.sender), message.received_at
    )


@contextmanager
def sender_lock(runtime: Runtime, phone: str) -> Iterator[None]:
    """One text per number at a time, so two pieces processed at once cannot make two referrals."""
    digest = hashlib.sha256(optout.normalise_phone(phone).encode()).hexdigest()[:32]
    lock = runtime.redis.lock(
        f"{runtime.settings.queue_prefix}:conversation:{digest}",
        timeout=LOCK_SECONDS,
        blocking_timeout=LOCK_SECONDS / 2,
    )
    try:
        acquired = lock.acquire()
    except RedisError as exc:
        log.warning("conversation lock unavailable (%s): going on without it", type(exc).__name__)
        acquired = False
    try:
        yield
    finally:
        if acquired:
            try:
                lock.release()
            except LockError:
                log.warning("conversation lock expired before the text was handled")


# -- questions --------------------------------------------------------------------------------


def confident_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields we are sure enough of not to ask about (pure)."""
    confidence = fields.get("confidence") or {}
    return {
        k: v
        for k, v in fields.items()
        if not isinstance(confidence.get(k), int | float) or confidence[k] >= CONFIDENT
    }


def _may_ask(
    runtime: Runtime,
    referral: Referral,
    conv: Conversation | None,
    *,
    opted_out: bool | None = None,
) -> str | None:
    """Why no question may go to this referral's number now, or None.

    `opted_out` is the number's opt-out status when the caller read it already in this job
    (under the sender lock); None reads it here. `outbound.send` checks it again before sending.
    """
    if conv is None:
        return "no conversation"
    if conv.stopped:
        return conv.stopped
    if referral.status == "closed":
        return "closed"
    if not referral.safe_to_contact or referral.fields.get("safe_to_contact") is False:
        return "not safe to contact"
    if opted_out is None:
        opted_out = optout.is_opted_out(runtime.store, conv.phone)
    if opted_out:
        return "opted out"
    return None


def _question(runtime: Runtime, referral: Referral, conv: Conversation) -> tuple[str, str] | None:
    settings = runtime.settings
    return next_question(
        confident_fields(referral.fields),
        conv.asked,
        settings.conversation_max_questions,
        settings.templates_dir / "questions",
    )


def with_first_question(
    runtime: Runtime,
    referral: Referral,
    message: InboundMessage,
    plan: acknowledge.Plan,
    *,
    conv: Conversation | None = None,
    opted_out: bool | None = None,
) -> acknowledge.Plan:
    """The acknowledgement, with the first question added when one should be asked.

    `conv` (from `start`, earlier in the same job) and `opted_out` (the sender's status read
    at the start of the job) spare a re-read; either is read here when not given.
    """
    if message.channel != CHANNEL or plan.channel != CHANNEL or referral.id is None:
        return plan
    if referral.urgency == "emergency":
        return plan  # the 999 advice goes alone
    store = runtime.store
    if conv is None or conv.referral_id != referral.id:
        conv = get(store, referral.id)
    if conv is None or _may_ask(runtime, referral, conv, opted_out=opted_out):
        return plan
    if any(o["dedupe_key"] == plan.dedupe_key for o in store.outbound_for(referral.id)):
        return plan  # already sent (a re-run): nothing new to record
    if conv.asked:
        key = conv.asked[0]  # a retry of an acknowledgement that failed to send
        text = question_text(key, runtime.settings.templates_dir / "questions")
    else:
        chosen = _question(runtime, referral, conv)
        if chosen is None:
            return plan
        key, text = chosen
        # The question and its audit entry in one transaction.
        audit = _question_audit(referral.id, key)
        _touch(store, conv, utcnow(), asked=[key], pending=key, audit=audit)
    return replace(plan, body=f"{plan.body}\n\n{text}")


def _question_audit(referral_id: int, key: str) -> tuple[str, str, dict[str, Any]]:
    return (SYSTEM_ACTOR, "referral.question_asked", {"key": key})


def ask_next(runtime: Runtime, referral: Referral, trigger: str) -> str:
    """Send the next question after the text `trigger` (its MessageSid), if one should be asked.

    One question at most per text: the dedupe key names the text it follows, so a redelivered
    or retried text never asks a second one.
    """
    assert referral.id is not None
    store = runtime.store
    dedupe_key = f"question:{referral.reference}:{trigger}"
    if any(o["dedupe_key"] == dedupe_key for o in store.outbound_for(referral.id)):
        return "no question: already asked after this text"
    conv = get(store, referral.id)
    reason = _may_ask(runtime, referral, conv)
    if reason or conv is None:
        return f"no question: {reason}"
    chosen = _question(runtime, referral, conv)
    if chosen is None:
        limit = runtime.settings.conversation_max_questions
        why = "limit reached" if len(conv.asked) >= limit else "nothing missing"
        return f"no question: {why}"
    key, text = chosen
    outcome = outbound.send(
        runtime.settings,
        store,
        channel=CHANNEL,
        to=conv.phone,
        body=text,
        kind="question",
        referral_id=referral.id,
        dedupe_key=dedupe_key,
    )
    if outcome.status in ("sent", "duplicate", "rejected"):
        # Recorded after sending: a retry re-sends nothing (the dedupe key) and records it then.
        audit = _question_audit(referral.id, key) if outcome.status == "sent" else None
        _touch(store, conv, utcnow(), asked=[*conv.asked, key], pending=key, audit=audit)
    return f"asked {key}: {outcome.status}"


# -- a text from someone we are talking to ----------------------------------------------------


def intercept(
    runtime: Runtime, message: InboundMessage, *, opted_out: bool | None = None
) -> Handled | None:
    """Handle a text that is a keyword or part of an open conversation; None for a new referral.

    Call under `sender_lock(runtime, message.sender)`. `opted_out`: the sender's status if the
    caller read it already (it passes it on to the acknowledgement), else it is read here.
    """
    store = runtime.store
    if opted_out is None:
        opted_out = optout.is_opted_out(store, message.sender)
    word = optout.keyword_of(message.body, message.meta, opted_out=opted_out)
    if word is not None:
        return _keyword(runtime, message, word)
    existing = store.find_referral_for_message(CHANNEL, message.provider_id)
    if existing is not None:
        if not _joined_by_conversation(store, message.provider_id):
            return None  # the referral's first text: the pipeline finishes its own steps
        alerts.alert_emergency(runtime, existing)  # idempotent; a retry after a failed alert
        asked = _follow_up(runtime, existing, message)
        return Handled(existing.reference, "already stored; " + asked)
    window = timedelta(minutes=runtime.settings.conversation_window_minutes)
    conv = open_conversation(store, message.sender, message.received_at, window)
    if conv is None:
        return None
    referral = store.get_referral_by_id(conv.referral_id)
    assert referral is not None
    return _continue(runtime, referral, conv, message)


def _joined_by_conversation(store: Store, provider_id: str) -> bool:
    meta = store.message_meta(CHANNEL, provider_id)
    return meta is not None and meta.get("joined_by") == "conversation"


def _continue(
    runtime: Runtime, referral: Referral, conv: Conversation, message: InboundMessage
) -> Handled:
    store = runtime.store
    assert referral.id is not None
    earlier = [m["body"] for m in store.messages_for(referral.id) if m["channel"] == CHANNEL]
    combined = "\n".join(b for b in [*earlier, message.body] if b)
    extraction = extract(combined, CHANNEL, message.sender)
    at = message.received_at.isoformat()
    fields = merge.fill_fields(
        referral.fields,
        extraction.to_dict(),
        {"source": "conversation", "message": message.provider_id, "at": at},
    )
    answer = interpret_answer(conv.pending, message.body) if conv.pending else {}
    if answer:
        fields = merge.apply_answer(
            fields,
            answer,
            {
                "source": "sms_answer",
                "question": conv.pending,
                "message": message.provider_id,
                "at": at,
            },
        )
    try:
        updated = merge.absorb(runtime, referral, message, how="conversation", fields=fields)
    except DuplicateMessage:
        return Handled(referral.reference, "already stored")
    answered = (
        (
            SYSTEM_ACTOR,
            "referral.question_answered",
            {"key": conv.pending, "fields": sorted(k for k in answer if k not in ("need",))},
        )
        if answer
        else None
    )
    _touch(
        store, conv, message.received_at, pending=None if answer else conv.pending, audit=answered
    )
    alerts.alert_emergency(runtime, updated)  # once per contact, only for emergencies
    asked = _follow_up(runtime, updated, message)
    log.info(
        "referral %s: text joined the conversation (%s), urgency %s, %s",
        updated.reference,
        f"answered {conv.pending}" if answer else "no answer recognised",
        updated.urgency,
        asked,
    )
    return Handled(updated.reference, f"continued; {asked}")


def _follow_up(runtime: Runtime, referral: Referral, message: InboundMessage) -> str:
    """After a joining text: the 999 advice if it just became an emergency, else a question."""
    key = f"ack-emergency:{referral.reference}:{message.provider_id}"
    sent = runtime.store.outbound_for(referral.id or 0)
    if any(o["dedupe_key"] == key for o in sent) or _emergency_advice(
        runtime, referral, message, key
    ):
        return "no question: emergency advice sent"
    return ask_next(runtime, referral, message.provider_id)


def _emergency_advice(
    runtime: Runtime, referral: Referral, message: InboundMessage, dedupe_key: str
) -> bool:
    """Send the 999 advice now if the conversation became an emergency; True if it went now.

    A referral that was an emergency from its first text had the advice in its acknowledgement
    (recognised by its body), so later texts go on to questions as usual.
    """
    if referral.urgency != "emergency" or referral.id is None:
        return False
    plan = acknowledge.plan(runtime.settings, referral, message)
    if isinstance(plan, acknowledge.Skip):
        return False
    for sent in runtime.store.outbound_for(referral.id):
        same = sent["kind"] == "ack" and sent["recipient"] == plan.to
        if same and sent["body"].startswith(plan.body):
            return False
    outcome = outbound.send(
        runtime.settings,
        runtime.store,
        channel=plan.channel,
        to=plan.to,
        body=plan.body,
        kind="ack",
        referral_id=referral.id,
        dedupe_key=dedupe_key,
    )
    return outcome.status == "sent"


# -- STOP, START, HELP ------------------------------------------------------------------------


def _keyword(runtime: Runtime, message: InboundMessage, word: str) -> Handled:
    store, settings = runtime.store, runtime.settings
    window = timedelta(minutes=settings.conversation_window_minutes)
    conv = open_conversation(store, message.sender, message.received_at, window)
    reference = ""
    if conv is not None:
        referral = store.get_referral_by_id(conv.referral_id)
        reference = referral.reference if referral else ""
        stored = replace(message, meta={**message.meta, "joined_by": f"keyword:{word}"})
        with contextlib.suppress(DuplicateMessage):
            store.add_message(conv.referral_id, stored)  # the advocate sees the STOP too
    if word in ("stop", "start"):
        opted_out = word == "stop"
        changed = optout.record(
            store,
            message.sender,
            opted_out=opted_out,
            keyword=message.body.strip().upper()[:32] or word.upper(),
            provider_id=message.provider_id,
            at=message.received_at,
        )
        if conv is not None and changed:
            _update(store, conv.referral_id, stopped="opted out" if opted_out else None)
        store.audit(
            SYSTEM_ACTOR,
            "sms.opted_out" if opted_out else "sms.opted_in",
            referral_id=conv.referral_id if conv else None,
            detail={"keyword": word, "applied": changed},
        )
        log.info("sms %s: %s", message.provider_id, "opted out" if opted_out else "opted back in")
        return Handled(reference, "opted out" if opted_out else "opted in")
    dedupe_key = f"help:{message.provider_id}"
    admitted = ratelimit.admit(
        settings, runtime.redis, channel=CHANNEL, sender=message.sender, member=dedupe_key,
        kind="help",
    )
    if not admitted:
        return Handled(reference, "help: rate limited")
    body = render_text(
        settings.templates_dir,
        "sms/help.txt",
        org_name=settings.org_name,
        crisis_line=settings.crisis_line,
        reference=reference,
    )
    outcome = outbound.send(
        settings,
        store,
        channel=CHANNEL,
        to=message.sender,
        body=body,
        kind="help",
        referral_id=conv.referral_id if conv else None,
        dedupe_key=dedupe_key,
    )
    return Handled(reference, f"help: {outcome.status}")
