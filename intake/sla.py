"""Time to triage: when each referral is due, whether it is overdue, and alerting on-call.

The top half is pure (times in, times out) so the rules can be tested without a clock. Emergency
and urgent targets run on the wall clock; routine ones count working days (Monday to Friday;
bank holidays are not known here), ending at the same time of day on the due working day.

The bottom half is the one side effect: `check_overdue(runtime)` texts or emails the on-call
manager about each unclaimed emergency past its time. The dedupe key `sla-alert:<reference>` is
unique in the outbound table, so however often the check runs (an RQ job enqueued while the
dashboard is open, or `intake sla-check` from cron) each emergency alerts once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from intake.config import Settings

if TYPE_CHECKING:
    from intake.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    emergency: timedelta = timedelta(minutes=15)
    urgent: timedelta = timedelta(hours=4)
    routine_working_days: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            emergency=timedelta(minutes=settings.sla_emergency_minutes),
            urgent=timedelta(minutes=settings.sla_urgent_minutes),
            routine_working_days=settings.sla_routine_working_days,
        )


def add_working_days(start: datetime, days: int) -> datetime:
    """`days` weekdays after `start`; a weekend start counts from Monday's same time."""
    current = start
    while current.weekday() >= 5:
        current += timedelta(days=1)
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def due_at(received_at: datetime, urgency: str, policy: Policy) -> datetime:
    if urgency == "emergency":
        return received_at + policy.emergency
    if urgency == "urgent":
        return received_at + policy.urgent
    return add_working_days(received_at, policy.routine_working_days)


@dataclass(frozen=True)
class Timer:
    due: datetime
    overdue: bool
    remaining: timedelta  # negative when overdue

    @property
    def label(self) -> str:
        text = human_duration(abs(self.remaining))
        return f"overdue by {text}" if self.overdue else f"due in {text}"

    def describe(self, zone: str, now: datetime) -> str:
        """What a person reads, with the due time in the service's zone: "due 14:05",
        "due Tue 09:30", "overdue by 12 min" (the absolute time is in `due_label`)."""
        if self.overdue:
            return f"overdue by {human_duration(abs(self.remaining))}"
        return f"due {clock(self.due, zone, now)}"

    def due_label(self, zone: str, now: datetime) -> str:
        return f"due {clock(self.due, zone, now)}"


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(when: datetime, zone: str) -> datetime:
    """`when` (aware; naive is UTC) in the service's time zone."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(_zone(zone))


def clock(when: datetime, zone: str, now: datetime) -> str:
    """A time as short as it can be and still unambiguous, in `zone`: "14:05" today,
    "Tue 09:30" within the coming or past six days, else "3 Dec 14:05" (and the year when it
    is another year's)."""
    there, today = local(when, zone), local(now, zone)
    days = (there.date() - today.date()).days
    if days == 0:
        return f"{there:%H:%M}"
    if -6 <= days <= 6:
        return f"{there:%a %H:%M}"
    if there.year == today.year:
        return f"{there.day} {there:%b %H:%M}"
    return f"{there.day} {there:%b %Y %H:%M}"


def full(when: datetime, zone: str) -> str:
    """A whole date and time in `zone` with its abbreviation: "Tue 2 Dec 2026 14:05 GMT"."""
    there = local(when, zone)
    return f"{there:%a} {there.day} {there:%b %Y %H:%M %Z}"


def timer(
    received_at: datetime, urgency: str, status: str, now: datetime, policy: Policy
) -> Timer | None:
    """The triage timer for a referral; `None` once it is triaged or closed (the clock stops)."""
    if status != "open":
        return None
    due = due_at(received_at, urgency, policy)
    return Timer(due=due, overdue=now > due, remaining=due - now)


def human_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "under a minute"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def alert_text(reference: str, overdue_by: timedelta, base_url: str | None) -> str:
    link = f" {base_url.rstrip('/')}/referrals/{reference}" if base_url else ""
    return (
        f"Intake: emergency referral {reference} has not been claimed and is overdue by "
        f"{human_duration(overdue_by)}. Please make sure someone picks it up now.{link}"
    )


# -- the side effect --------------------------------------------------------------------------


def check_overdue(runtime: Runtime, now: datetime | None = None) -> list[str]:
    """Alert on-call once per unclaimed, overdue emergency; returns the references alerted now."""
    from intake import alerts
    from intake.failures import Unreachable
    from intake.models import SYSTEM_ACTOR, utcnow

    settings = runtime.settings
    contact = settings.oncall_manager_contact.strip()
    if not contact:
        return []
    channel = runtime.channels.for_address(contact)
    if channel is None:
        log.error("no channel can reach ONCALL_MANAGER_CONTACT")
        return []
    now = now or utcnow()
    policy = Policy.from_settings(settings)
    alerted = []
    for referral in runtime.store.worklist.unclaimed_open("emergency"):
        due = due_at(referral.received_at, referral.urgency, policy)
        if now <= due:
            continue
        try:
            result = alerts.notify(
                runtime,
                contact,
                subject=f"intake: emergency {referral.reference} unclaimed past its time",
                text=alert_text(referral.reference, now - due, settings.public_base_url),
                referral=referral,
                dedupe_key=f"sla-alert:{referral.reference}",
            )
        except Unreachable as exc:  # the claim was released: the next check retries
            log.error("on-call alert for %s not sent: %s", referral.reference, exc)
            continue
        if result.status == "sent":
            runtime.store.audit(
                SYSTEM_ACTOR,
                "sla.alerted",
                referral_id=referral.id,
                detail={"channel": channel.name},
            )
            alerted.append(referral.reference)
            log.warning("on-call alerted: emergency %s unclaimed past its time", referral.reference)
    return alerted


def check_overdue_job() -> list[str]:
    """The name an earlier release queued this check under (now `intake.tasks.sla_check`)."""
    from intake.runtime import current

    return check_overdue(current())
