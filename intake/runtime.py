"""The per-process handles every part of intake shares: settings, database, Redis.

Web, SMTP and worker processes each build one `Runtime` at start-up. RQ job functions cannot be
handed objects, so they ask `current()`, which builds it from the environment on first use; tests
install their own with `install()`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from intake.config import Settings, load_settings
from intake.queue import connect
from intake.store import Store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    redis: Redis
    cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        if not settings.redis_url:
            raise RuntimeError(
                "REDIS_URL is not set: start the service with `intake run`, which starts an "
                "embedded Redis and passes its URL on, or set REDIS_URL"
            )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store.from_url(settings.effective_database_url)
        # Once per process, here: a forked worker's jobs never check the schema again.
        store.upgrade(auto=settings.database_auto_upgrade)
        return cls(settings=settings, store=store, redis=connect(settings.redis_url))

    def close(self) -> None:
        self.store.dispose()
        self.redis.close()


_lock = threading.Lock()
_current: Runtime | None = None


def current() -> Runtime:
    global _current
    with _lock:
        if _current is None:
            _current = Runtime.build(load_settings())
        return _current


def install(runtime: Runtime | None) -> None:
    global _current
    with _lock:
        _current = runtime
