"""One inbound message's way from the queue to a stored, forwarded, acknowledged referral.

Each step is a small function; the whole is idempotent, because RQ may run a job twice (a retry
after the database was down, a worker killed mid-job, a webhook delivered twice). The message's
provider id is unique in the store, so a second run finds the referral the first one made and only
finishes what is left: forwarding if it is not yet delivered, the acknowledgement if none was sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from intake import (
    acknowledge,
    alerts,
    conversation,
    forwarding,
    merge,
    optout,
    outbound,
    ratelimit,
)
from intake.extraction import extract
from intake.models import InboundMessage, Referral
from intake.reference import new_reference
from intake.runtime import Runtime
from intake.screening import screen
from intake.store import DuplicateMessage, Store

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Result:
    reference: str
    created: bool
    acknowledgement: str


def build_referral(message: InboundMessage) -> Referral:
    """Screen and extract (pure): what the worker knows before it touches the database."""
    screening = screen(message.body, message.channel)
    extraction = extract(message.body, message.channel, message.sender)
    safe = screening.safe_to_contact and extraction.fields.get("safe_to_contact", True) is not False
    return Referral(
        reference=new_reference(),
        channel=message.channel,
        sender=message.sender,
        received_at=message.received_at,
        raw_text=message.body,
        urgency=screening.urgency,
        safeguarding=list(screening.safeguarding),
        screening=screening.to_dict(),
        fields=extraction.to_dict(),
        safe_to_contact=safe,
    )


def store_referral(runtime: Runtime, message: InboundMessage) -> tuple[Referral, bool]:
    """The referral for this message: the existing one on a re-run, else a new one."""
    store = runtime.store
    existing = store.find_referral_for_message(message.channel, message.provider_id)
    if existing:
        if existing.id is not None and _first_message_is(store, existing.id, message):
            merge.link_possible(runtime, existing)  # idempotent: a crash may have cut it short
        return existing, False
    referral = build_referral(message)
    match = merge.find_certain(runtime, message, referral)  # the same person on another channel
    if match is not None:
        target, how = match
        try:
            return merge.absorb(runtime, target, message, how=f"merge:{how}"), False
        except DuplicateMessage:
            found = store.find_referral_for_message(message.channel, message.provider_id)
            assert found is not None
            return found, False
    for _attempt in range(5):
        try:
            referral = store.create_referral(referral, message)
            break
        except DuplicateMessage:
            found = store.find_referral_for_message(message.channel, message.provider_id)
            assert found is not None
            return found, False
        except IntegrityError:
            referral.reference = new_reference()  # a reference clash: vanishingly rare
    else:
        raise RuntimeError("could not allocate a unique reference")
    merge.link_possible(runtime, referral)  # possible duplicates: linked for a person, not merged
    return referral, True


def _first_message_is(store: Store, referral_id: int, message: InboundMessage) -> bool:
    """Whether this referral was created from this message (a re-run of its first job)."""
    first = store.messages_for(referral_id)[:1]
    return bool(first) and first[0]["provider_id"] == message.provider_id


def send_acknowledgement(
    runtime: Runtime,
    referral: Referral,
    message: InboundMessage,
    *,
    conv: conversation.Conversation | None = None,
    opted_out: bool | None = None,
) -> str:
    """`conv` and `opted_out`: what this job already read (spares re-reading them)."""
    return deliver_acknowledgement(
        runtime,
        referral,
        message,
        acknowledge.plan(runtime.settings, referral, message),
        amend=lambda plan: conversation.with_first_question(
            runtime, referral, message, plan, conv=conv, opted_out=opted_out
        ),
    )


def deliver_acknowledgement(
    runtime: Runtime,
    referral: Referral,
    message: InboundMessage,
    decision: acknowledge.Plan | acknowledge.Skip,
    *,
    amend: Callable[[acknowledge.Plan], acknowledge.Plan] | None = None,
) -> str:
    """Send a planned acknowledgement (any channel) through the rate limit, at most once."""
    if isinstance(decision, acknowledge.Skip):
        return f"skipped: {decision.reason}"
    if not ratelimit.admit_acknowledgement(runtime, referral, message, decision.dedupe_key):
        return "skipped: rate limited"
    if amend is not None:
        decision = amend(decision)
    outcome = outbound.send(
        runtime.settings,
        runtime.store,
        channel=decision.channel,
        to=decision.to,
        body=decision.body,
        kind="ack",
        referral_id=referral.id,
        dedupe_key=decision.dedupe_key,
        audit_sent="referral.acknowledged",  # with the `sent` outcome, in one transaction
    )
    return outcome.status


def handle_inbound(runtime: Runtime, message: InboundMessage) -> Result:
    if message.channel != "sms":
        return _handle_inbound(runtime, message)
    with conversation.sender_lock(runtime, message.sender):
        # Read once per job and passed down: STOP/START are texts from this number, which wait
        # for this lock. It only decides keywords and whether a question rides on the
        # acknowledgement; `outbound.send` reads it again right before claiming a send.
        opted_out = optout.is_opted_out(runtime.store, message.sender)
        handled = conversation.intercept(runtime, message, opted_out=opted_out)  # STOP, a reply
        if handled is not None:
            return Result(handled.reference, created=False, acknowledgement=handled.outcome)
        return _handle_inbound(runtime, message, opted_out=opted_out)


def _handle_inbound(
    runtime: Runtime, message: InboundMessage, *, opted_out: bool | None = None
) -> Result:
    referral, created = store_referral(runtime, message)
    conv = None
    if message.channel == "sms":
        conv = conversation.start(runtime, referral, message)  # later texts in the window join it
    alert_failed = raise_later(alerts.alert_emergency, runtime, referral)
    if referral.forward_status != "delivered":
        forwarding.schedule(runtime, referral, "created")  # deduped on (reference, event id)
    ack = send_acknowledgement(runtime, referral, message, conv=conv, opted_out=opted_out)
    log.info(
        "referral %s %s from %s: urgency %s, acknowledgement %s",
        referral.reference,
        "created" if created else "already stored",
        message.channel,
        referral.urgency,
        ack,
    )
    if alert_failed:
        raise alert_failed  # the job's retry sends it; everything else above is idempotent
    return Result(reference=referral.reference, created=created, acknowledgement=ack)


def raise_later(step: Callable[..., object], *args: object) -> outbound.Unreachable | None:
    """Run a notifying step whose provider may be down without holding up the rest of the job."""
    try:
        step(*args)
    except outbound.Unreachable as exc:
        log.error("%s could not reach its provider; the job will be retried", step.__name__)
        return exc
    return None
