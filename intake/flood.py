"""Bursts: many new referrals from senders with no history, in a short time, are one incident.

205 emails saying "I have taken all my tablets" in a second is an attack (or a broken script), not
205 emergencies, and treating it as 205 hides the real emergency that arrives in the middle of
it. Nothing is dropped: every message is still stored, screened and on the queue. What changes:

- the burst is recorded as one incident (`store.incidents`), which the queue page shows at the
  top (how many referrals, emergencies and senders, since when) with its own page listing them;
- on-call hears once that an incident began (`intake.alerts.alert_incident`), and its
  emergencies are summarised in the coalesced digest instead of alerted one by one.

The rule: a referral is *new* when its sender (on its channel) made no referral before the last
`flood_window` seconds. When at least `flood_threshold` new referrals arrive on one channel within
`flood_window` seconds, they and every new one after them while it goes on form the incident. The
window is a sorted set per channel in Redis (shared by every worker); if Redis cannot answer,
nothing is held back (the referral is alerted as usual).
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from redis.exceptions import LockError, RedisError

from intake import alerts
from intake.failures import Unreachable
from intake.models import Referral

if TYPE_CHECKING:
    from intake.runtime import Runtime

log = logging.getLogger(__name__)

# KEYS[1] the channel's window of new referrals; ARGV: now, window, threshold, member.
# Returns every member when the window holds at least `threshold` of them, else an empty list.
_OBSERVE = """
local key, now, window, threshold, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
redis.call('ZADD', key, now, member)
redis.call('EXPIRE', key, math.ceil(window) + 60)
if redis.call('ZCARD', key) >= threshold then
    return redis.call('ZRANGE', key, 0, -1)
end
return {}
"""


def _key(runtime: Runtime, channel: str) -> str:
    return f"{runtime.settings.queue_prefix}:flood:{channel}"


def observe(runtime: Runtime, referral: Referral) -> int | None:
    """Note a referral just created; the incident it is part of, if it is part of a burst.

    Idempotent (a re-run of the job adds nothing new). Alerts on-call once when an incident
    opens; raises `Unreachable` when that alert could not reach its provider (the job retries).
    """
    settings, store = runtime.settings, runtime.store
    if settings.flood_threshold <= 0 or referral.id is None:
        return None
    window = timedelta(seconds=settings.flood_window)
    if store.incidents.sender_known(
        referral.channel, referral.sender, referral.received_at - window
    ):
        return None
    try:
        members = runtime.redis.eval(
            _OBSERVE,
            1,
            _key(runtime, referral.channel),
            time.time(),
            settings.flood_window,
            settings.flood_threshold,
            str(referral.id),
        )
        if not members:
            return None
        ids = [int(m) for m in members]
        with runtime.redis.lock(
            _key(runtime, referral.channel) + ":lock", timeout=30, blocking_timeout=15
        ):
            incident_id, opened = store.incidents.record_burst(
                referral.channel, ids, referral.received_at, window
            )
    except (RedisError, LockError) as exc:
        log.warning("flood detection unavailable (%s)", type(exc).__name__)
        return None
    if opened:
        log.warning(
            "incident %d: %d new %s referrals from senders with no history within %d s",
            incident_id,
            len(ids),
            referral.channel,
            settings.flood_window,
        )
        store.audit(
            "system",
            "incident.opened",
            detail={"incident": incident_id, "channel": referral.channel, "referrals": len(ids)},
        )
    told = f"{_key(runtime, referral.channel)}:alerted:{incident_id}"
    try:
        if runtime.redis.exists(told):
            return incident_id
    except RedisError:
        pass  # ask the store's dedupe keys instead
    try:
        alerts.alert_incident(runtime, incident_id)  # once per incident and contact
    except Unreachable:
        log.error("on-call alert for incident %d could not reach its provider", incident_id)
        raise
    with contextlib.suppress(RedisError):
        runtime.redis.set(told, "1", ex=max(settings.flood_window * 12, 3600))
    return incident_id
