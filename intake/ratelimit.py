"""Per-sender and per-source limits on acknowledgements, kept in Redis so every worker shares them.

A sender who texts fifty times in a minute (a distressed person, a stuck phone, a prank, a script)
must not get fifty texts back, nor make us pay for them. Their messages are still queued, stored and
screened like any other; only the acknowledgements are limited: at most `ack_rate_limit` per
recipient in a sliding window of `ack_rate_window` seconds, and at most `ack_source_limit` per
source in the same window (a source is what the channel says the message came from: the sending
machine's IP address and the From domain of an email), so someone cycling through recipients'
addresses cannot make intake write to thousands of people (backscatter). Every limit must admit
an acknowledgement for it to go; it is counted against all of them at once, or none.

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

# KEYS: the windows to check; ARGV: now, member, then a limit and a window (seconds) per key.
# Returns 1 when the member may be sent (already admitted everywhere, or room left in every
# window) and records it in each; else 0 and records nothing.
_ADMIT = """
local now, member = tonumber(ARGV[1]), ARGV[2]
for i, key in ipairs(KEYS) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - tonumber(ARGV[2 + 2 * i]))
end
for i, key in ipairs(KEYS) do
    if not redis.call('ZSCORE', key, member) then
        if redis.call('ZCARD', key) >= tonumber(ARGV[1 + 2 * i]) then
            return 0
        end
    end
end
for i, key in ipairs(KEYS) do
    if not redis.call('ZSCORE', key, member) then
        redis.call('ZADD', key, now, member)
    end
    redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[2 + 2 * i])))
end
return 1
"""


def admit_all(
    redis: Redis, windows: list[tuple[str, int, float]], member: str, now: float | None = None
) -> bool:
    """May `member` go, within every (key, limit, window seconds) of `windows`? Records it in
    all of them when yes, in none when no (one atomic script). Raises `RedisError`."""
    if not windows:
        return True
    args: list[object] = [now if now is not None else time.time(), member]
    for _key, limit, window in windows:
        args += [limit, window]
    return bool(redis.eval(_ADMIT, len(windows), *(key for key, _l, _w in windows), *args))


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
    sources: tuple[str, ...] = (),
    limit: int | None = None,
    source_limit: int | None = None,
    window: float | None = None,
) -> bool:
    """May `member` (a dedupe key) be sent to `sender` now? Records it when the answer is yes.

    `sources` are further windows (`BaseChannel.sources`) with `source_limit` each. `limit`,
    `source_limit` and `window` default to the acknowledgement settings. A limit of 0 or less
    turns that limit off. If Redis cannot answer, the answer is yes: the store's dedupe key still
    stops a second acknowledgement for the same referral, and a person who reached out must not
    go unanswered because of a cache.
    """
    limit = settings.ack_rate_limit if limit is None else limit
    source_limit = settings.ack_source_limit if source_limit is None else source_limit
    window = settings.ack_rate_window if window is None else window
    windows: list[tuple[str, int, float]] = []
    if limit > 0 and sender:
        windows.append((sender_key(settings, channel, sender, kind), limit, window))
    if source_limit > 0:
        windows += [(source_key(settings, s, kind), source_limit, window) for s in sources]
    try:
        return admit_all(redis, windows, member, now)
    except RedisError as exc:
        log.warning("rate limit unavailable (%s): admitting anyway", type(exc).__name__)
        return True


def source_key(settings: Settings, source: str, kind: str = "ack") -> str:
    """The Redis key of one source's window (hashed like senders)."""
    digest = hashlib.sha256(f"source:{source.strip().lower()}".encode()).hexdigest()[:32]
    return f"{settings.queue_prefix}:ratelimit:{kind}:{digest}"


def admit_acknowledgement(
    runtime: Runtime, referral: Referral, message: InboundMessage, dedupe_key: str
) -> bool:
    """The pipeline's hook: may this referral's acknowledgement go to its sender?

    Within the sender's own allowance and within each of its sources' (the channel's
    `sources`). Emergency acknowledgements (with 999 advice) have allowances of their own.
    """
    kind = "ack-emergency" if referral.urgency == "emergency" else "ack"
    channel = runtime.channels.get(message.channel) if message.channel in runtime.channels else None
    sources = channel.sources(runtime, message) if channel is not None else ()
    admitted = admit(
        runtime.settings,
        runtime.redis,
        channel=message.channel,
        sender=message.sender,
        member=dedupe_key,
        kind=kind,
        sources=sources,
    )
    if not admitted:
        log.info("acknowledgement for %s not sent: over a rate limit", referral.reference)
        if referral.id is not None:
            runtime.store.audit(
                "system",
                "referral.ack_rate_limited",
                referral_id=referral.id,
                detail={"kind": kind},
            )
    return admitted
