"""`intake backup` / `intake restore` for SQLite, with SQLite's online backup API.

The backup API (https://www.sqlite.org/backup.html; Python's `sqlite3.Connection.backup`)
copies a consistent snapshot page by page while the service keeps running: a copy of the file
itself could catch a write half done, or miss what is still in the `-wal` file. The backup is
created readable by its owner only. It holds the data as stored, so encrypted columns stay
encrypted: keep the keys (`INTAKE_ENCRYPTION_KEYS`, or `DATA_DIR/encryption.keys` and
`search.key`) safe elsewhere, not beside the backups, and test a restore with them.

PostgreSQL is backed up with its own tools (`pg_dump --format=custom`, `pg_restore`): see the
README's Backups section.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import Engine


class NotSQLite(RuntimeError):
    """The database is not SQLite: use pg_dump / pg_restore."""


def _database_file(engine: Engine) -> Path:
    if engine.dialect.name != "sqlite" or not engine.url.database:
        raise NotSQLite(engine.dialect.name)
    return Path(engine.url.database)


def backup(engine: Engine, out: Path) -> int:
    """Copy the live database to `out` (a new file, mode 0600); its size in bytes."""
    source = _database_file(engine)
    if out.exists():
        raise FileExistsError(f"{out} exists: choose a new file")
    fd = os.open(out, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    with sqlite3.connect(source) as live, sqlite3.connect(out) as copy:
        live.backup(copy)
    _check(out)
    return out.stat().st_size


def restore(engine: Engine, backup_file: Path) -> None:
    """Replace the database's contents with `backup_file`'s. Stop every intake process first:
    the copy takes the write lock, and processes holding pooled connections see the old pages
    until they reconnect."""
    target = _database_file(engine)
    _check(backup_file)
    engine.dispose()
    with sqlite3.connect(backup_file) as source, sqlite3.connect(target) as live:
        source.backup(live)


def _check(path: Path) -> None:
    """A file SQLite can read whole (`PRAGMA integrity_check`), or ValueError."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            found = conn.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path} is not an SQLite database: {exc}") from None
    if not found or found[0] != "ok":
        raise ValueError(f"{path} failed SQLite's integrity check: {found}")
