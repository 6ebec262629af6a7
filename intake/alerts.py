"""Telling staff, at once: an emergency has come in, or one is waiting too long.

Contacts are phone numbers or email addresses (`ONCALL_DUTY_CONTACTS`, `ONCALL_MANAGER_CONTACT`);
whichever installed channel reaches that kind of address sends the notice. A notice says which
referral and why, never what the person wrote: SMS and ordinary email are not secure enough for
special-category data, and the dashboard link needs a login. Each contact is told once per
occasion (the outbound dedupe key), however often a job runs.

Occasions: a referral that arrives as an emergency; a later message that makes it one; an
advocate raising it to emergency by hand; a later message that screens as an emergency on a
referral a person had decided was less urgent (their decision stands, on-call still hears).

A flood must not bury on-call in alerts (205 emails, 206 texts to the duty phone) nor hide the
real emergency among them, so automatic alerts are coalesced (an advocate's raise always goes
at once):

- at most `alert_coalesce_after` alerts go at once in any `alert_coalesce_seconds`;
- at most `alert_source_limit` per source (`BaseChannel.sources`: a number, a sending IP, a From
  domain) in any `alert_source_window` seconds;
- none for a referral in a burst incident (`intake.flood`), which is alerted once itself.

An alert held back is never dropped: it joins a digest that goes to every on-call contact when
the coalescing window ends ("12 more emergencies in the last 2 minutes: REF-... Open the
queue"). The windows and the digest live in Redis; if Redis cannot answer, alerts go at once.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from intake import outbound, ratelimit
from intake.models import SYSTEM_ACTOR, Referral, utcnow
from intake.queue import ALERT_DIGEST, ALERT_RETRY, QueueUnavailable, enqueue, safe_job_id
from intake.templating import render_text

if TYPE_CHECKING:
    from intake.runtime import Runtime

log = logging.getLogger(__name__)

FIRST = "first"


def notify(
    runtime: Runtime,
    contact: str,
    *,
    subject: str,
    text: str,
    referral: Referral | None,
    dedupe_key: str,
) -> outbound.Outcome:
    """Send one notice to a member of staff, at most once per dedupe key.

    Raises `LookupError` when no installed channel can reach `contact`, and `Unreachable` when
    the provider is down (the caller's job retries).
    """
    channel = runtime.channels.for_address(contact)
    if channel is None:
        raise LookupError(f"no channel can reach the contact {_masked(contact)}")
    body = channel.compose(runtime, contact, text, subject=subject, kind="alert")
    return outbound.send(
        runtime,
        channel=channel.name,
        to=contact,
        body=body,
        kind="alert",
        referral_id=referral.id if referral else None,
        dedupe_key=dedupe_key,
    )


def _masked(contact: str) -> str:
    return contact[:3] + "…" if len(contact) > 3 else "…"


WHY = ("new", "escalated", "raised", "screened")


def alert_emergency(
    runtime: Runtime,
    referral: Referral,
    *,
    why: str = "new",
    occasion: str = FIRST,
    sources: Sequence[str] = (),
) -> list[str]:
    """Alert every on-call contact about an emergency; returns whom it reached now.

    `why` is one of `WHY` (see `templates/alerts/emergency.txt`). Unless it is `screened` (a
    message screened as an emergency on a referral whose urgency a person decided), nothing
    happens when the referral is not an emergency. `occasion` tells one alert from the next on
    the same referral (a later message's provider id, an advocate's raise); the first alert of a
    referral is `FIRST`. `sources` are where the message came from (`BaseChannel.sources`): an
    automatic alert may be held for the digest (module docstring); `raised` never is.
    """
    if why not in WHY:
        raise ValueError(f"why must be one of {WHY}")
    settings = runtime.settings
    if referral.urgency != "emergency" and why != "screened":
        return []
    if not settings.oncall_duty_contacts:
        return []
    if why != "raised" and _held(runtime, referral, why=why, occasion=occasion, sources=sources):
        return []
    link = (
        f"{settings.public_base_url}/referrals/{referral.reference}"
        if settings.public_base_url
        else ""
    )
    text = render_text(
        settings.templates_dir,
        "alerts/emergency.txt",
        reference=referral.reference,
        channel=referral.channel,
        categories=referral.safeguarding,
        link=link,
        # never the model's reason itself: it quotes words of the message
        by_model=str((referral.screening or {}).get("needs_review") or "").startswith("model:"),
        why=why,
    )
    suffix = "" if occasion == FIRST else f":{occasion}"
    reached = []
    for contact in settings.oncall_duty_contacts:
        try:
            outcome = notify(
                runtime,
                contact,
                subject=f"intake EMERGENCY referral {referral.reference}",
                text=text,
                referral=referral,
                dedupe_key=f"emergency-alert:{referral.reference}:{contact}{suffix}"[:255],
            )
        except LookupError:
            log.error(
                "an on-call contact for %s cannot be reached by any channel", referral.reference
            )
            continue
        if outcome.status == "sent":
            reached.append(contact)
            channel = runtime.channels.for_address(contact)
            runtime.store.audit(
                SYSTEM_ACTOR,
                "referral.oncall_alerted",
                referral_id=referral.id,
                detail={"channel": channel.name if channel else "", "occasion": occasion},
            )
        elif outcome.status == "rejected":
            log.error("emergency alert for %s refused for one on-call contact", referral.reference)
    return reached


# -- coalescing: what waits for the digest ----------------------------------------------------


def _prefix(runtime: Runtime) -> str:
    return f"{runtime.settings.queue_prefix}:alert-digest"


def _held(
    runtime: Runtime, referral: Referral, *, why: str, occasion: str, sources: Sequence[str]
) -> str | None:
    """Why this alert waits for the digest (`incident`, `flood`), or None: it goes now."""
    settings = runtime.settings
    if settings.alert_coalesce_seconds <= 0:
        return None
    member = f"{referral.reference}|{why}|{occasion}"
    try:
        if _digest_holds(runtime, member):
            return "flood"  # a re-run of a job whose alert was held: it stays held
        reason = None
        since = utcnow() - timedelta(seconds=settings.flood_window)
        if referral.id is not None and runtime.store.incidents.active_for(referral.id, since):
            reason = "incident"
        else:
            windows = [
                (
                    ratelimit.source_key(settings, source, "alert"),
                    settings.alert_source_limit,
                    float(settings.alert_source_window),
                )
                for source in sources
                if settings.alert_source_limit > 0
            ]
            if settings.alert_coalesce_after > 0:
                windows.append(
                    (
                        f"{settings.queue_prefix}:ratelimit:alert-all",
                        settings.alert_coalesce_after,
                        float(settings.alert_coalesce_seconds),
                    )
                )
            if not ratelimit.admit_all(runtime.redis, windows, member):
                reason = "flood"
        if reason is None:
            return None
        _add_to_digest(runtime, member)
    except RedisError as exc:
        log.warning("alert coalescing unavailable (%s): alerting at once", type(exc).__name__)
        return None
    log.info("on-call alert for %s held for the digest (%s)", referral.reference, reason)
    runtime.store.audit(
        SYSTEM_ACTOR,
        "referral.oncall_alert_held",
        referral_id=referral.id,
        detail={"reason": reason, "occasion": occasion},
    )
    return reason


HELD_FOR = 24 * 3600  # seconds a held alert is remembered, so a re-run of its job holds it again


def _digest_holds(runtime: Runtime, member: str) -> bool:
    return runtime.redis.zscore(f"{_prefix(runtime)}:held", member) is not None


def _add_to_digest(runtime: Runtime, member: str) -> None:
    prefix, now = _prefix(runtime), time.time()
    with runtime.redis.pipeline() as pipe:
        pipe.zadd(f"{prefix}:held", {member: now})
        pipe.zremrangebyscore(f"{prefix}:held", "-inf", now - HELD_FOR)
        pipe.expire(f"{prefix}:held", HELD_FOR)
        pipe.zadd(f"{prefix}:pending", {member: now}, nx=True)
        pipe.execute()
    schedule_digest(runtime)


def schedule_digest(runtime: Runtime) -> str | None:
    """Queue the digest for the end of the coalescing window, unless one is queued; its id."""
    settings, redis = runtime.settings, runtime.redis
    digest_id = secrets.token_hex(8)
    flag = f"{_prefix(runtime)}:scheduled"
    window = max(1, settings.alert_coalesce_seconds)
    if not redis.set(flag, digest_id, nx=True, ex=window * 10):
        return None
    try:
        enqueue(
            settings,
            redis,
            ALERT_DIGEST,
            digest_id,
            priority="high",
            job_id=safe_job_id(settings.queue_prefix, "alert-digest", digest_id),
            retry=ALERT_RETRY,
            delay=timedelta(seconds=window),
        )
    except QueueUnavailable:
        redis.delete(flag)
        raise RedisError("could not queue the alert digest") from None
    return digest_id


# KEYS[1] pending, KEYS[2] this digest's batch: move what is pending into the batch, once.
_CLAIM = """
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('RENAME', KEYS[1], KEYS[2])
end
return redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
"""
# KEYS[1] the scheduled flag; ARGV[1] this digest's id: clear the flag if it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


DIGEST_LISTED = 10  # references named in a digest; the rest are counted


def send_digest(runtime: Runtime, digest_id: str) -> list[str]:
    """Send the alerts held since the last digest, as one notice per on-call contact; returns
    whom it reached. At most once per contact (dedupe key), however often the job runs; raises
    `Unreachable` when a provider is down (the job retries and sends only what is left)."""
    settings, redis, store = runtime.settings, runtime.redis, runtime.store
    prefix = _prefix(runtime)
    batch = f"{prefix}:batch:{digest_id}"
    found = redis.eval(_CLAIM, 2, f"{prefix}:pending", batch)
    held = [(found[i].decode(), float(found[i + 1])) for i in range(0, len(found), 2)]
    reached: list[str] = []
    if held and settings.oncall_duty_contacts:
        references = list(dict.fromkeys(member.split("|", 1)[0] for member, _at in held))
        first = min(at for _m, at in held)
        minutes = max(1, math.ceil((time.time() - first) / 60))
        since = utcnow() - timedelta(seconds=settings.flood_window)
        text = render_text(
            settings.templates_dir,
            "alerts/digest.txt",
            count=len(references),
            minutes=minutes,
            references=references[:DIGEST_LISTED],
            more=max(0, len(references) - DIGEST_LISTED),
            incidents=len(store.incidents.recent(since)),
            link=f"{settings.public_base_url}/" if settings.public_base_url else "",
        )
        for contact in settings.oncall_duty_contacts:
            try:
                outcome = notify(
                    runtime,
                    contact,
                    subject=f"intake: {len(references)} more emergency referrals",
                    text=text,
                    referral=None,
                    dedupe_key=f"emergency-digest:{digest_id}:{contact}"[:255],
                )
            except LookupError:
                log.error("an on-call contact cannot be reached by any channel")
                continue
            if outcome.status == "sent":
                reached.append(contact)
        store.audit(
            SYSTEM_ACTOR,
            "oncall.digest_sent",
            detail={"digest": digest_id, "referrals": references, "reached": len(reached)},
        )
    redis.delete(batch)
    redis.eval(_RELEASE, 1, f"{prefix}:scheduled", digest_id)
    if redis.zcard(f"{prefix}:pending"):
        schedule_digest(runtime)  # held while this one was being sent
    return reached


def alert_incident(runtime: Runtime, incident_id: int) -> list[str]:
    """Tell on-call once that a burst incident began (`intake.flood`); whom it reached now."""
    settings, store = runtime.settings, runtime.store
    if not settings.oncall_duty_contacts:
        return []
    incident = store.incidents.get(incident_id)
    if incident is None:
        return []
    count = len(store.incidents.references(incident_id))
    text = render_text(
        settings.templates_dir,
        "alerts/incident.txt",
        channel=incident["channel"],
        count=count,
        minutes=max(1, math.ceil(settings.flood_window / 60)),
        link=(
            f"{settings.public_base_url}/incidents/{incident_id}"
            if settings.public_base_url
            else ""
        ),
    )
    reached = []
    for contact in settings.oncall_duty_contacts:
        try:
            outcome = notify(
                runtime,
                contact,
                subject="intake: possible flood of referrals",
                text=text,
                referral=None,
                dedupe_key=f"incident-alert:{incident_id}:{contact}"[:255],
            )
        except LookupError:
            log.error("an on-call contact cannot be reached by any channel")
            continue
        if outcome.status == "sent":
            reached.append(contact)
    return reached
