"""Schema migrations with Alembic: `intake db upgrade`, `intake db current`, and the start-up check.

The revisions live in `intake/store/migrations/versions/`; the first one adopts a database that an
earlier intake made with `create_all` (see its docstring). Every process checks the schema when it
starts: with `DATABASE_AUTO_UPGRADE` on (the default) it upgrades to head first, otherwise it
refuses to start until someone runs `intake db upgrade` (the usual release step when several
machines share one database).

Upgrades take a lock so that processes starting together (web, SMTP, worker and clock all start
at once under `intake run` or a process manager) migrate once, one after the other: an advisory
lock held for the transaction on PostgreSQL (whose DDL is transactional, so a failed upgrade
leaves nothing half-done), `BEGIN IMMEDIATE` on SQLite.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from intake.store.database import WRITES

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant will do; it names intake's migration lock among the database's advisory locks.
ADVISORY_LOCK_KEY = 0x1A7A6E


class SchemaOutOfDate(RuntimeError):
    """The database is not at the revision this code needs, and auto-upgrade is off."""


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def head() -> str:
    """The newest revision in this code."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    assert found is not None
    return found


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database or one made before migrations."""
    with engine.connect() as conn:
        return _current(conn)


def _lock(conn: Connection) -> None:
    # On SQLite the transaction itself holds the write lock (it began IMMEDIATE, see
    # `intake.store.database.make_engine`): a second process waits there, then finds it done.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to `revision` in one locked transaction; returns the revisions before and after."""
    with engine.connect().execution_options(**{WRITES: True}) as conn, conn.begin():
        _lock(conn)
        before = _current(conn)
        command.upgrade(_config(conn), revision)
        after = _current(conn)
    return before, after


def ensure_current(engine: Engine, *, auto_upgrade: bool) -> None:
    """At start: upgrade to head (when allowed) or refuse to run on an out-of-date schema.

    Raises `SchemaOutOfDate` with the command that fixes it.
    """
    wanted = head()
    if current(engine) == wanted:
        return
    if auto_upgrade:
        upgrade(engine)
        return
    raise SchemaOutOfDate(
        f"the database schema is at {current(engine) or 'no revision'} and this version of "
        f"intake needs {wanted}: run `intake db upgrade` (DATABASE_AUTO_UPGRADE is off)"
    )
