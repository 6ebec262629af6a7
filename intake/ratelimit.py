"""Per-sender limits on acknowledgements, kept in Redis so every worker shares them.

A sender who texts fifty times in a minute (a distressed person, a stuck phone, a prank, a script)
must not get fifty texts back, nor make us pay for them. Their messages are still queued, stored and
screened like any other; only the acknowledgements are limited: at most `ack_rate_limit` per sender
in a sliding window of `ack_rate_window` seconds.

The window is a sorted set per sender whose members are the acknowledgements' dedupe keys, so the
check is idempotent: a retried job asking again for the same acknowledgement gets the same answer
and does not use up the sender's allowance. Emergency acknowledgements (the ones with 999 advice)
have an allowance of their own, so a burst of routine texts never silences the one that matters.

Senders are stored as a hash, not as numbers or addresses: Redis is not where personal data lives.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import TYPE_CHECKING

from redis import Redis
from redis.exceptions import RedisError

from intake.config import Settings
from intake.models import InboundMessage, Referral

if TYPE_CHECKING:
    from intake.runtime import Runtime

log = logging.getLogger(__name__)

# KEYS[1] the sender's window; ARGV: now, window seconds, limit, member.
# Returns 1 when the member may be sent (already admitted, or room left), else 0.
_ADMIT = """
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZSCORE', key, member) then
    return 1
end
if redis.call('ZCARD', key) >= limit then
    return 0
end
redis.call('ZADD', key, now, member)
redis.call('EXPIRE', key, math.ceil(window))
return 1
"""


def sender_key(settings: Settings, channel: str, sender: str, kind: str = "ack") -> str:
    """The Redis key of one sender's window (the sender hashed, normalised to lower case)."""
    digest = hashlib.sha256(f"{channel}:{sender.strip().lower()}".encode()).hexdigest()[:32]
    return f"{settings.queue_prefix}:ratelimit:{kind}:{digest}"


def admit(
    settings: Settings,
    redis: Redis,
    *,
    channel: str,
    sender: str,
    member: str,
    kind: str = "ack",
    now: float | None = None,
) -> bool:
    """May `member` (a dedupe key) be sent to `sender` now? Records it when the answer is yes.

    A limit of 0 or less turns limiting off. If Redis cannot answer, the answer is yes: the
    store's dedupe key still stops a second acknowledgement for the same referral, and a person
    who reached out must not go unanswered because of a cache.
    """
    limit = settings.ack_rate_limit
    if limit <= 0:
        return True
    try:
        admitted = redis.eval(
            _ADMIT,
            1,
            sender_key(settings, channel, sender, kind),
            now if now is not None else time.time(),
            settings.ack_rate_window,
            limit,
            member,
        )
    except RedisError as exc:
        log.warning("rate limit unavailable (%s): acknowledging anyway", type(exc).__name__)
        return True
    return bool(admitted)


def admit_acknowledgement(
    runtime: Runtime, referral: Referral, message: InboundMessage, dedupe_key: str
) -> bool:
    """The pipeline's hook: may this referral's acknowledgement go to its sender?"""
    kind = "ack-emergency" if referral.urgency == "emergency" else "ack"
    admitted = admit(
        runtime.settings,
        runtime.redis,
        channel=message.channel,
        sender=message.sender,
        member=dedupe_key,
        kind=kind,
    )
    if not admitted:
        log.info("acknowledgement for %s not sent: sender over the rate limit", referral.reference)
        if referral.id is not None:
            runtime.store.audit(
                "system",
                "referral.ack_rate_limited",
                referral_id=referral.id,
                detail={"kind": kind},
            )
    return admitted
