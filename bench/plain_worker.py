"""Bench only: `worker.py --burst` (in-process jobs) on a store WITHOUT encryption keys, the
baseline `make bench` measures the cost of encryption at rest against.

The store's encrypted column types and the blind index pass values through unchanged when the
engine has no keyring (`intake.store.crypto`: `Store(engine, keyring=None)`, the mode the store
tests use). Nothing in intake's configuration can reach that mode in a running service: the
service's processes build their store through `Runtime.build`, which always installs the keys
(`intake.encryption.keyring`). This script builds the same runtime by hand, minus the keys, and
runs the same worker code (`worker.warm_up_jobs`, `worker.build_worker`) over the same queues.
Use it only on a database of its own: a store without keys cannot read encrypted rows.

`python bench/plain_worker.py` (settings from the environment, as `worker.py`).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import channels  # noqa: E402
import worker  # noqa: E402
from intake import runtime  # noqa: E402
from intake.channel import Channels  # noqa: E402
from intake.config import load_settings  # noqa: E402
from intake.queue import connect  # noqa: E402
from intake.runtime import Runtime  # noqa: E402
from intake.store import Store  # noqa: E402


def main() -> int:
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.from_url(settings.effective_database_url, keyring=None)  # no keys: plain text
    store.upgrade(auto=settings.database_auto_upgrade)
    rt = Runtime(
        settings=settings,
        store=store,
        redis=connect(settings.redis_url or ""),
        channels=Channels(channels.registry()),
    )
    runtime.install(rt)
    worker.warm_up_jobs(rt)
    worker.build_worker(rt, simple=True).work(burst=True, with_scheduler=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
