"""The per-process handles every part of intake shares: settings, database, Redis, channels.

Web, SMTP, worker and clock processes each build one `Runtime` at start-up, composed with the
channels their composition root chose (`intake/cli.py`, `worker.py`, `intake/tasks.py`). RQ job
functions cannot be handed objects, so they ask `current()` for the one their process installed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from intake.channel import BaseChannel, Channels
from intake.config import Settings
from intake.encryption import keyring
from intake.queue import connect
from intake.store import Store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    redis: Redis
    channels: Channels = field(default_factory=Channels)
    cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, channels: Iterable[BaseChannel] = ()) -> Runtime:
        """Connect to the database (upgrading its schema, see `intake.store.migrate`) and Redis."""
        if not settings.redis_url:
            raise RuntimeError(
                "REDIS_URL is not set: start the service with `intake run`, which starts an "
                "embedded Redis and passes its URL on, or set REDIS_URL"
            )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store.from_url(settings.effective_database_url, keyring(settings))
        # Once per process, here: a forked worker's jobs never check the schema again.
        store.upgrade(auto=settings.database_auto_upgrade)
        return cls(
            settings=settings,
            store=store,
            redis=connect(settings.redis_url),
            channels=Channels(channels),
        )

    def close(self) -> None:
        self.store.dispose()
        self.redis.close()


_lock = threading.Lock()
_current: Runtime | None = None


def current() -> Runtime:
    """The runtime this process installed; raises `RuntimeError` when none was."""
    with _lock:
        if _current is None:
            raise RuntimeError("no intake runtime is installed in this process")
        return _current


def installed() -> Runtime | None:
    with _lock:
        return _current


def install(runtime: Runtime | None) -> None:
    global _current
    with _lock:
        _current = runtime
