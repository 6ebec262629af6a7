"""Texts come in pieces: join them into one referral and ask, one at a time, for what is missing.

Which referral a text continues (`thread`):
- the sender's conversation whose last activity (a text in, or a question out) is within
  `CONVERSATION_WINDOW_MINUTES`, whatever its status (a closed referral is reopened by the one
  absorb policy: a message to it must not sit unread);
- failing that, a conversation with a closed question (who is it for, do they agree, how to
  contact them) still waiting for its answer, within `MERGE_WINDOW_DAYS`, when the text is a
  short reply that reads as the answer ("TEXT" to "how shall we contact you?"). It joins that
  referral, even a closed one, instead of becoming a new one with a fresh acknowledgement. An
  open question ("what would you like help with?") is not matched this way: a later description
  of a need is as likely to be a new referral, which is linked to the old one for a person.
The answer is read by `interpret_answer` and replaces what was guessed; the pipeline screens and
extracts the whole conversation again (`intake.absorb`).

Questions (`templates/questions/<key>.txt`, chosen by `intake.extraction.questions`):
- the first one rides on the acknowledgement, so a person gets one text back, not two;
- never on an emergency acknowledgement: that text carries the 999 advice and nothing else, and
  the referral is already forwarded; questions follow only if the person texts again;
- never when it is not safe to contact, the number opted out, the referral was closed, or an
  advocate has replied (a person is talking to them now: no machine questions in between);
- at most `CONVERSATION_MAX_QUESTIONS` per referral, each key at most once; a field extracted
  with confidence below `CONFIDENT` counts as missing.

STOP / START / HELP are handled before anything else (`keyword`). Each step is idempotent on the
MessageSid: a re-run finds the stored message and only sends what was not sent (questions and
help texts are deduplicated in the outbound table).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from redis.exceptions import LockError

from channels.sms import optout
from intake import acknowledge, communication, languages, outbound, ratelimit
from intake.acknowledge import Plan, Skip
from intake.channel import Handled, Outcome, Thread
from intake.extraction.questions import interpret_answer, next_question
from intake.models import SYSTEM_ACTOR, InboundMessage, Referral, utcnow
from intake.runtime import Runtime
from intake.store import Conversation, DuplicateMessage
from intake.templating import render_text

log = logging.getLogger(__name__)

CHANNEL = "sms"
CONFIDENT = 0.5
LOCK_SECONDS = 120
JOINED = "conversation"
# Questions whose answers are recognisable out of context, and how long such a reply may be.
CLOSED_QUESTIONS = ("referral_for", "consent", "contact", "language")
# The "Welsh or English?" question (Welsh Language Standards): asked on the acknowledgement when
# no preference is known; the answer is recorded as the referral's language preference.
LANGUAGE_QUESTION = "language"
NO_CALL_CONTACT = "questions/contact_text_only.txt"
SHORT_REPLY_WORDS = 12


class SenderBusy(Exception):
    """Another text from this number held its lock too long: the job is retried later."""


@contextmanager
def sender_lock(runtime: Runtime, phone: str) -> Iterator[None]:
    """One text per number at a time, so two pieces processed at once cannot make two referrals.

    Raises `SenderBusy` when the lock is not had in time, and a Redis error when Redis cannot
    be asked: either fails the job, and RQ retries it (never two texts handled at once).
    """
    digest = hashlib.sha256(optout.normalise_phone(phone).encode()).hexdigest()[:32]
    lock = runtime.redis.lock(
        f"{runtime.settings.queue_prefix}:conversation:{digest}",
        timeout=LOCK_SECONDS,
        blocking_timeout=LOCK_SECONDS / 2,
    )
    if not lock.acquire():
        raise SenderBusy(f"another text from this number is still being handled ({digest[:8]})")
    try:
        yield
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("conversation lock expired before the text was handled")


# -- which referral a text continues ----------------------------------------------------------


def thread(runtime: Runtime, message: InboundMessage) -> Thread | None:
    """The referral this text continues, with its answer to our question if it gives one."""
    store, settings = runtime.store, runtime.settings
    phone = optout.normalise_phone(message.sender)
    window = timedelta(minutes=settings.conversation_window_minutes)
    conv = store.conversations.latest(
        phone, active_since=message.received_at - window, include_closed=True
    )
    answer: dict[str, Any] = {}
    if conv is not None:
        answer = interpret_answer(conv.pending, message.body) if conv.pending else {}
    else:
        waiting = store.conversations.latest(
            phone,
            active_since=message.received_at - timedelta(days=settings.merge_window_days),
            include_closed=True,
        )
        short = len(message.body.split()) <= SHORT_REPLY_WORDS
        if waiting is not None and waiting.pending in CLOSED_QUESTIONS and short:
            answer = interpret_answer(waiting.pending, message.body)
            conv = waiting if answer else None
    if conv is None:
        return None
    referral = store.get_referral_by_id(conv.referral_id)
    if referral is None:
        return None
    answered = {"source": "sms_answer", "question": conv.pending}
    detail = {"pending": conv.pending, "conversation": conv.referral_id}
    return Thread(referral, JOINED, answer=answer, answered=answered, detail=detail)


def joined(runtime: Runtime, referral: Referral, message: InboundMessage, found: Thread) -> None:
    """After a text joined its conversation: note the answer and the activity (in the pipeline's
    transaction). The conversation may belong to a referral since merged into this one."""
    assert referral.id is not None
    conv = runtime.store.conversations.get(found.detail.get("conversation") or referral.id)
    if conv is None:
        return
    pending = found.detail.get("pending")
    answered = (
        (
            SYSTEM_ACTOR,
            "referral.question_answered",
            {"key": pending, "fields": sorted(k for k in found.answer if k != "need")},
        )
        if found.answer
        else None
    )
    runtime.store.conversations.update(
        conv,
        at=message.received_at,
        audit=answered,
        pending=None if found.answer else conv.pending,
    )


def start(runtime: Runtime, referral: Referral, message: InboundMessage) -> Conversation:
    """The conversation with this number about this referral, made on its first text."""
    assert referral.id is not None
    return runtime.store.conversations.start(
        referral.id, optout.normalise_phone(message.sender), message.received_at
    )


# -- what goes back ---------------------------------------------------------------------------


def acknowledgement(
    runtime: Runtime, referral: Referral, message: InboundMessage, *, emergency: bool = False
) -> Plan | Skip:
    """The acknowledgement of a text (pure but for reading templates); the 999 advice when the
    referral is an emergency, or when `emergency` says this text reads as one."""
    if not referral.safe_to_contact:
        return Skip("not safe to contact")
    if not message.sender:
        return Skip("no number to reply to")
    if message.meta.get("OptOutType"):
        return Skip("sender opted out")
    emergency = emergency or referral.urgency == "emergency"
    template = "ack/sms_emergency.txt" if emergency else "ack/sms.txt"
    body = acknowledge.render(runtime.settings, template, referral)
    # what happens next when the pre-check finds the person may be outside the criteria; never
    # beside the 999 advice
    steps = "" if emergency else acknowledge.next_steps(runtime.settings, referral)
    return Plan(
        channel=CHANNEL,
        to=message.sender,
        body=f"{body}\n\n{steps}" if steps else body,
        dedupe_key=acknowledge.ack_dedupe_key(referral, message.sender),
    )


def respond(runtime: Runtime, outcome: Outcome) -> str:
    """The acknowledgement (with the first question) for a new referral or a text merged into
    one; a follow-up (999 advice, or the next question) for a text in the conversation."""
    referral, message = outcome.referral, outcome.message
    if outcome.how == JOINED:
        return _follow_up(runtime, referral, message, screened=outcome.alert == "screened")
    conv = start(runtime, referral, message)  # later texts in the window join it
    plan = acknowledgement(runtime, referral, message)
    if isinstance(plan, Plan):
        plan = with_first_question(runtime, referral, message, plan, conv=conv)
    return acknowledge.deliver(runtime, referral, message, plan)


def confident_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields we are sure enough of not to ask about (pure)."""
    confidence = fields.get("confidence") or {}
    return {
        k: v
        for k, v in fields.items()
        if not isinstance(confidence.get(k), int | float) or confidence[k] >= CONFIDENT
    }


def _may_ask(runtime: Runtime, referral: Referral, conv: Conversation | None) -> str | None:
    """Why no question may go to this referral's number now, or None."""
    if conv is None:
        return "no conversation"
    if conv.stopped:
        return conv.stopped
    if referral.status == "closed":
        return "closed"
    if not referral.safe_to_contact or referral.fields.get("safe_to_contact") is False:
        return "not safe to contact"
    if optout.is_opted_out(runtime.store, conv.phone):
        return "opted out"
    assert referral.id is not None
    if any(o["kind"] == "reply" for o in runtime.store.outbound_for(referral.id)):
        return "an advocate has replied"
    return None


def _question(runtime: Runtime, referral: Referral, conv: Conversation) -> tuple[str, str] | None:
    """(key, wording in the sender's language) of the next question, or None."""
    settings = runtime.settings
    chosen = next_question(
        confident_fields(referral.fields),
        conv.asked,
        settings.conversation_max_questions,
        settings.templates_dir / "questions",
    )
    if chosen is None:
        return None
    return chosen[0], _wording(runtime, referral, chosen[0])


def _wording(runtime: Runtime, referral: Referral, key: str) -> str:
    """Question `key` in the sender's language(s); any question name works (a language that
    lacks it gets English and its line "write in your language")."""
    settings = runtime.settings
    if key == LANGUAGE_QUESTION:
        choice = acknowledge.choice_for(settings, referral)
        return acknowledge.localized(
            settings, languages.ASK_TEMPLATE, referral, choice=replace(choice, ask=True)
        ).text
    name = f"questions/{key}.txt"
    if key == "contact" and not communication.voice_call_back(referral.fields):
        # Accessible Information Standard: no CALL option for a BSL user or a deaf person.
        name = NO_CALL_CONTACT
    return acknowledge.localized(settings, name, referral).text


def _asked(key: str) -> tuple[str, str, dict[str, Any]]:
    return (SYSTEM_ACTOR, "referral.question_asked", {"key": key})


def with_first_question(
    runtime: Runtime,
    referral: Referral,
    message: InboundMessage,
    plan: Plan,
    *,
    conv: Conversation,
) -> Plan:
    """The acknowledgement, with the first question added when one should be asked."""
    if message.channel != CHANNEL or referral.id is None or referral.urgency == "emergency":
        return plan  # the 999 advice goes alone
    if conv.referral_id != referral.id or _may_ask(runtime, referral, conv):
        return plan
    store = runtime.store
    if any(o["dedupe_key"] == plan.dedupe_key for o in store.outbound_for(referral.id)):
        return plan  # already sent (a re-run): nothing new to record
    if conv.asked:
        key = conv.asked[0]  # a retry of an acknowledgement that failed to send
        text = _wording(runtime, referral, key)
    elif acknowledge.choice_for(runtime.settings, referral).ask:
        # Welsh Language Standards: ask which language first; the other questions follow.
        key, text = LANGUAGE_QUESTION, _wording(runtime, referral, LANGUAGE_QUESTION)
        store.conversations.update(conv, at=utcnow(), audit=_asked(key), asked=[key], pending=key)
    else:
        chosen = _question(runtime, referral, conv)
        if chosen is None:
            return plan
        key, text = chosen
        # The question and its audit entry in one transaction.
        store.conversations.update(conv, at=utcnow(), audit=_asked(key), asked=[key], pending=key)
    return replace(plan, body=f"{plan.body}\n\n{text}")


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
    conv = store.conversations.get(referral.id)
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
        runtime,
        channel=CHANNEL,
        to=conv.phone,
        body=text,
        kind="question",
        referral_id=referral.id,
        dedupe_key=dedupe_key,
    )
    if outcome.status in ("sent", "duplicate", "rejected"):
        # Recorded after sending: a retry re-sends nothing (the dedupe key) and records it then.
        audit = _asked(key) if outcome.status == "sent" else None
        store.conversations.update(
            conv, at=utcnow(), audit=audit, asked=[*conv.asked, key], pending=key
        )
    return f"asked {key}: {outcome.status}"


def _follow_up(
    runtime: Runtime, referral: Referral, message: InboundMessage, *, screened: bool = False
) -> str:
    """After a joining text: the 999 advice if it just became an emergency (or, `screened`, reads
    as one though a person set the referral lower), else a question."""
    key = f"ack-emergency:{referral.reference}:{message.provider_id}"
    sent = runtime.store.outbound_for(referral.id or 0)
    if any(o["dedupe_key"] == key for o in sent) or _emergency_advice(
        runtime, referral, message, key, screened=screened
    ):
        return "no question: emergency advice sent"
    if screened:
        return "no question: the text reads as an emergency"
    return ask_next(runtime, referral, message.provider_id)


def _emergency_advice(
    runtime: Runtime,
    referral: Referral,
    message: InboundMessage,
    dedupe_key: str,
    *,
    screened: bool = False,
) -> bool:
    """Send the 999 advice now if the conversation became an emergency; True if it went now.

    A referral that was an emergency from its first text had the advice in its acknowledgement
    (recognised by its body), so later texts go on to questions as usual. A text that reads as an
    emergency on a referral a person set lower (`screened`) always gets it: it is new risk.
    """
    if (referral.urgency != "emergency" and not screened) or referral.id is None:
        return False
    plan = acknowledgement(runtime, referral, message, emergency=True)
    if isinstance(plan, Skip):
        return False
    for sent in runtime.store.outbound_for(referral.id):
        same = sent["kind"] == "ack" and sent["recipient"] == plan.to
        if same and sent["body"].startswith(plan.body) and not screened:
            return False
    outcome = outbound.send(
        runtime,
        channel=plan.channel,
        to=plan.to,
        body=plan.body,
        kind="ack",
        referral_id=referral.id,
        dedupe_key=dedupe_key,
    )
    return outcome.status == "sent"


# -- STOP, START, HELP ------------------------------------------------------------------------


def keyword(runtime: Runtime, message: InboundMessage) -> Handled | None:
    """Handle a text that is STOP, START or HELP (and nothing else); None for any other text."""
    store, settings = runtime.store, runtime.settings
    opted_out = optout.is_opted_out(store, message.sender)
    word = optout.keyword_of(message.body, message.meta, opted_out=opted_out)
    if word is None:
        return None
    window = timedelta(minutes=settings.conversation_window_minutes)
    conv = store.conversations.latest(
        optout.normalise_phone(message.sender), active_since=message.received_at - window
    )
    reference = ""
    referral = None
    if conv is not None:
        referral = store.get_referral_by_id(conv.referral_id)
        reference = referral.reference if referral else ""
        stored = replace(message, meta={**message.meta, "joined_by": f"keyword:{word}"})
        with contextlib.suppress(DuplicateMessage):
            store.add_message(conv.referral_id, stored)  # the advocate sees the STOP too
    if word in ("stop", "start"):
        stopping = word == "stop"
        changed = optout.record(
            store,
            message.sender,
            opted_out=stopping,
            keyword=message.body.strip().upper()[:32] or word.upper(),
            provider_id=message.provider_id,
            at=message.received_at,
        )
        if conv is not None and changed:
            store.conversations.update(conv, stopped="opted out" if stopping else None)
        store.audit(
            SYSTEM_ACTOR,
            "sms.opted_out" if stopping else "sms.opted_in",
            referral_id=conv.referral_id if conv else None,
            detail={"keyword": word, "applied": changed},
        )
        log.info("sms %s: %s", message.provider_id, "opted out" if stopping else "opted back in")
        return Handled("opted out" if stopping else "opted in", reference or None)
    dedupe_key = f"help:{message.provider_id}"
    admitted = ratelimit.admit(
        settings,
        runtime.redis,
        channel=CHANNEL,
        sender=message.sender,
        member=dedupe_key,
        kind="help",
    )
    if not admitted:
        return Handled("help: rate limited", reference or None)
    if referral is not None:  # in the language they write in (or asked for)
        body = acknowledge.localized(settings, "sms/help.txt", referral).text
    else:
        body = render_text(
            settings.templates_dir,
            "sms/help.txt",
            org_name=settings.org_name,
            crisis_line=settings.crisis_line,
            reference=reference,
        )
    outcome = outbound.send(
        runtime,
        channel=CHANNEL,
        to=message.sender,
        body=body,
        kind="help",
        referral_id=conv.referral_id if conv else None,
        dedupe_key=dedupe_key,
    )
    return Handled(f"help: {outcome.status}", reference or None)
