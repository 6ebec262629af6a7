"""The connection to the database, and the caller's transaction when there is one.

SQLAlchemy Core over SQLite (the embedded default) or PostgreSQL (`DATABASE_URL`). Every query
module asks `Database` for a connection: inside `Database.transaction()` it gets that
transaction's connection, so several writes (an advocate's change and its audit entry, a referral
and its first message) commit or roll back together; outside one, each write is its own short
transaction, as before.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from itertools import count
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

_ids = count()
# An execution option on a connection that will write: on SQLite its transaction takes the write
# lock when it begins (see `make_engine`).
WRITES = "intake_writes"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive ones otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def normalise_url(url: str) -> str:
    """Accept the URLs people paste (`postgres://`, `postgresql://`); use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _owner_only(path: str | None) -> None:
    """Create the SQLite file readable and writable by its owner only (mode 0600), or tighten
    an existing one: it holds special-category personal data. SQLite gives its `-wal` and
    `-shm` files the database file's mode."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        return  # a folder that does not exist yet: SQLite reports it on connecting
    os.close(fd)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def make_engine(url: str) -> Engine:
    """An engine for `url`; on SQLite, with transactions that really are transactions.

    Python's sqlite3 module opens a transaction only just before an INSERT/UPDATE/DELETE and not
    at all for a SAVEPOINT, so a transaction that reads first, or starts with a savepoint, is not
    atomic. SQLAlchemy's documented remedy ("Serializable isolation / Savepoints / Transactional
    DDL", pysqlite dialect) is applied: the driver's own BEGIN is turned off and one is emitted
    when SQLAlchemy begins. A connection marked `WRITES` begins IMMEDIATE, taking SQLite's write
    lock at once (waiting up to the busy timeout for another writer), so it can never fail half
    way when upgrading a stale read snapshot to a write; reads begin DEFERRED and, in WAL mode,
    never wait for a writer.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _owner_only(sa.engine.make_url(url).database)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # no implicit BEGIN: `_sqlite_begin` emits it
            # WAL lets the web process read while a worker writes; foreign keys are off by default.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted and overwritten content is zeroed in the file, not left in free space:
            # erasure and retention must not leave bodies readable in the raw file (issue 16).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            writes = conn.get_execution_options().get(WRITES)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


class Database:
    """One engine, and the transaction the current thread or task has open on it (if any)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        n = next(_ids)
        self._current: ContextVar[Connection | None] = ContextVar(
            f"intake-transaction-{n}", default=None
        )
        self._pinned: ContextVar[Connection | None] = ContextVar(f"intake-pinned-{n}", default=None)

    @property
    def in_transaction(self) -> bool:
        return self._current.get() is not None

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """One connection for everything the block reads and writes (a worker's job).

        Without it every read checks a connection out of the pool and back (a liveness ping
        before, a ROLLBACK after: two round trips) and every write opens a transaction on another
        checkout; a referral made ~20 checkouts. Inside, reads run on the pinned connection in the
        transaction it is in, and each `transaction()` block commits it, so writes are exactly
        as atomic as before and a read never waits for a checkout. On PostgreSQL only: SQLite's
        reads must not hold a read snapshot that a later write would have to upgrade (see
        `make_engine`), and a file database has no round trips to save.

        The connection is opened in this process (after a fork, `Store.after_fork` has dropped
        the parent's), used by this thread or task only (a ContextVar), and rolled back and
        returned when the block ends, however it ends.
        """
        if (
            self.engine.dialect.name == "sqlite"
            or self._pinned.get() is not None
            or self._current.get() is not None
        ):
            yield
            return
        with self.engine.connect().execution_options(**{WRITES: True}) as conn:
            token = self._pinned.set(conn)
            try:
                yield
            finally:
                self._pinned.reset(token)
                if conn.in_transaction():
                    conn.rollback()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction for everything written inside the block; nested blocks join it."""
        conn = self._current.get()
        if conn is not None:
            yield conn
            return
        pinned = self._pinned.get()
        if pinned is not None:
            token = self._current.set(pinned)
            try:
                yield pinned
            except BaseException:
                pinned.rollback()
                raise
            else:
                pinned.commit()  # also ends the reads the pinned connection made before
            finally:
                self._current.reset(token)
            return
        with self.engine.connect().execution_options(**{WRITES: True}) as conn, conn.begin():
            token = self._current.set(conn)
            try:
                yield conn
            finally:
                self._current.reset(token)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading: the open transaction's, so it sees what was just written."""
        conn = self._current.get()
        if conn is not None:
            yield conn
            return
        pinned = self._pinned.get()
        if pinned is not None:
            try:
                yield pinned
            except BaseException:
                # a failed statement aborts PostgreSQL's transaction: start the next one clean
                if pinned.in_transaction():
                    pinned.rollback()
                raise
            return
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def attempt(self) -> Iterator[Connection]:
        """A write that may fail on a unique constraint without spoiling the caller's transaction.

        Inside an open transaction the write runs in a SAVEPOINT, so an `IntegrityError` undoes
        only it; outside one it is a transaction of its own.
        """
        conn = self._current.get()
        if conn is None:
            with self.transaction() as own:
                yield own
            return
        with conn.begin_nested():
            yield conn


class Queries:
    """The base of each aggregate's queries: they share the store's `Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
