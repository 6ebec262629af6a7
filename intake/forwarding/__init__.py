"""Forwarding referral events to the case system: one retried RQ job per event, never dropped.

`schedule` records the event (unique on `(reference, event_id)`, so a re-run of the pipeline or of
whoever calls it enqueues nothing twice) and queues `intake.tasks.forward_referral` on the
referral's priority, with `Retry` and exponential backoff. Each run sends the event to every
configured forwarder that has not yet taken it and records every attempt. Outcomes:

- all delivered: the event is `delivered`;
- a forwarder could not be reached (timeout, 408, 429, 5xx): the job raises and RQ retries it after
  the next interval; after the last attempt the event is `failed`;
- a forwarder refused it (any other 4xx, a 5xx SMTP reply, an invalid bundle): no retry, the event
  is `rejected`.

A failed or rejected event leaves its job in RQ's FailedJobRegistry and the referral's
`forward_status` at `forward_failed`; `failed()` lists them (GET /api/failed) and `replay()`
(`intake replay`) sends them again with a fresh set of attempts.
"""

from intake.forwarding.deliver import ForwardingDeferred, ForwardingFailed, deliver
from intake.forwarding.policy import (
    EVENTS,
    event_id_for,
    intervals,
    priority_for,
    remote_forwarders,
    retry_policy,
    state_digest,
)
from intake.forwarding.replay import (
    attempts,
    failed,
    in_failed_registry,
    replay,
    replay_all_failed,
    replay_command,
)
from intake.forwarding.schedule import bring_up_to_date, reconcile, schedule

__all__ = [
    "EVENTS",
    "ForwardingDeferred",
    "ForwardingFailed",
    "attempts",
    "bring_up_to_date",
    "deliver",
    "event_id_for",
    "failed",
    "in_failed_registry",
    "intervals",
    "priority_for",
    "reconcile",
    "remote_forwarders",
    "replay",
    "replay_all_failed",
    "replay_command",
    "retry_policy",
    "schedule",
    "state_digest",
]
