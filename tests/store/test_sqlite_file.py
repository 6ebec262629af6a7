"""The SQLite database holds special-category personal data: its file is its owner's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from intake.store import Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_database_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask would leave it world-readable
    try:
        store = Store.from_url(f"sqlite:///{tmp_path / 'intake.db'}")
        store.upgrade()
        store.dispose()
    finally:
        os.umask(old)
    assert _mode(tmp_path / "intake.db") & 0o077 == 0
    for extra in ("intake.db-wal", "intake.db-shm"):
        if (tmp_path / extra).exists():
            assert _mode(tmp_path / extra) & 0o077 == 0


def test_an_existing_world_readable_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "intake.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    Store.from_url(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600
