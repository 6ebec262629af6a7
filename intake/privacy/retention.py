"""Retention schedules (UK GDPR Article 5(1)(e), storage limitation): reading them, applying them.

The schedule is a TOML file (`INTAKE_RETENTION_FILE`; the shipped default is
`intake/data/retention.toml`, whose comments document the format). `load` reads and checks it
(a mistake stops the process at start, through `intake.settings_check`); `run` applies it once
(the clock runs it daily: `due_today`), or with `dry_run` only counts what would go. Every run
that is not a dry run writes one audit entry with the counts, never content, and seals the audit
chain.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from intake.config import ConfigError, Settings
from intake.models import SYSTEM_ACTOR, URGENCY_RANK, utcnow
from intake.store import Store
from intake.store.retention import REFERRAL_CLASSES, Rule

log = logging.getLogger(__name__)

CLASSES = (*REFERRAL_CLASSES, "audit", "missed_calls")
ACTIONS = {
    "bodies": ("delete",),
    "attachments": ("delete",),
    "outbound": ("delete",),
    "referral": ("anonymise",),
    "audit": ("anonymise", "delete"),
    "missed_calls": ("anonymise", "delete"),
}
AFTER = ("closed", "received")
KEYS = {"keep_days", "after", "urgency", "outcome", "action"}


@dataclass(frozen=True)
class Schedule:
    """Each class's rules, first match first; `source` names the file (for the audit)."""

    rules: dict[str, tuple[Rule, ...]]
    source: str


def _default_text() -> str:
    return resources.files("intake").joinpath("data", "retention.toml").read_text()


def load(settings: Settings) -> Schedule:
    """The schedule `INTAKE_RETENTION_FILE` names (or the shipped one), checked.

    Raises `ConfigError` naming the file and the first mistake: an unknown class or key, a
    `keep_days` that is not a positive whole number, an unknown `after`, `urgency` or `action`.
    """
    path = settings.retention_file
    name = str(path) if path else "intake/data/retention.toml (shipped)"
    try:
        text = Path(path).read_text(encoding="utf-8") if path else _default_text()
        document = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"INTAKE_RETENTION_FILE {name!r} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"INTAKE_RETENTION_FILE {name!r} is not valid TOML: {exc}") from None
    rules: dict[str, tuple[Rule, ...]] = {}
    for kind, entries in document.items():
        if kind not in CLASSES:
            raise ConfigError(
                f"{name}: unknown record class {kind!r} (known: {', '.join(CLASSES)})"
            )
        if not isinstance(entries, list):
            raise ConfigError(f"{name}: write [[{kind}]] (a list of rules), not [{kind}]")
        rules[kind] = tuple(_rule(name, kind, i, entry) for i, entry in enumerate(entries, 1))
    return Schedule(rules, name)


def _rule(name: str, kind: str, number: int, entry: dict[str, Any]) -> Rule:
    where = f"{name}: [[{kind}]] rule {number}"
    unknown = set(entry) - KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    days = entry.get("keep_days")
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise ConfigError(f"{where}: keep_days must be a whole number of days, 1 or more")
    after = entry.get("after", "closed" if kind in REFERRAL_CLASSES else "received")
    if after not in AFTER or (kind not in REFERRAL_CLASSES and after != "received"):
        allowed = AFTER if kind in REFERRAL_CLASSES else ("received",)
        raise ConfigError(f"{where}: after must be one of {', '.join(allowed)}")
    action = entry.get("action", ACTIONS[kind][0])
    if action not in ACTIONS[kind]:
        raise ConfigError(f"{where}: action must be one of {', '.join(ACTIONS[kind])}")
    urgency = tuple(entry.get("urgency") or ())
    if any(u not in URGENCY_RANK for u in urgency):
        raise ConfigError(f"{where}: urgency must be among {', '.join(URGENCY_RANK)}")
    outcome = tuple(str(o) for o in entry.get("outcome") or ())
    if (urgency or outcome) and kind not in REFERRAL_CLASSES:
        raise ConfigError(f"{where}: urgency and outcome apply to referral classes only")
    return Rule(keep_days=days, after=after, action=action, urgency=urgency, outcome=outcome)


def run(
    settings: Settings,
    store: Store,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    actor: str = SYSTEM_ACTOR,
) -> dict[str, int]:
    """Apply the schedule once (or count, with `dry_run`); rows per class."""
    schedule = load(settings)
    now = now or utcnow()
    counts = store.retention.apply(schedule.rules, now, dry_run=dry_run)
    if not dry_run:
        store.audit(
            actor, "privacy.retention", detail={"counts": counts, "schedule": schedule.source}
        )
        store.seal()
        store.privacy.flush()
        log.info("retention applied: %s", counts)
    return counts


RUN_EVERY = timedelta(days=1)


def due_today(settings: Settings, redis: Any) -> bool:
    """True once a day for the whole installation, however many clock processes run: the first
    to take the day's Redis key runs retention."""
    key = f"{settings.queue_prefix}:retention:last"
    return bool(redis.set(key, utcnow().isoformat(), nx=True, ex=int(RUN_EVERY.total_seconds())))
