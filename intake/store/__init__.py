"""The database: every table (`schema`), every query, and the migrations that change them.

No SQL is written outside this package. `Store` is the one handle the rest of intake holds:

- the core aggregate (referrals, their messages, what was sent back, the audit trail) as methods:
  `store.get_referral(...)`, `store.create_referral(...)`, `store.claim_outbound(...)`,
  `store.audit(...)`;
- the aggregates around it as attributes, one module each: `store.attachments`,
  `store.mail_events`, `store.calls`, `store.conversations`, `store.optouts`, `store.links`,
  `store.forwards`, `store.users`, `store.sessions`, `store.work`, `store.worklist` (the queue
  and its search), `store.search` (the search index), `store.corrections`, `store.desk` (saved
  filters, notices), `store.incidents`, `store.privacy` (erasure, requests),
  `store.retention`.

`store.transaction()` makes everything written inside it one transaction (an advocate's change
and its audit entry); outside one, each write commits on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from intake.store import crypto, migrate
from intake.store.attachments import Attachments
from intake.store.audit import AuditQueries, audit_entry
from intake.store.calls import Calls
from intake.store.conversations import Conversation, Conversations
from intake.store.corrections import Corrections
from intake.store.crypto import Keyring
from intake.store.database import Database, UTCDateTime, make_engine, normalise_url
from intake.store.desk import Desk
from intake.store.forwards import Forwards
from intake.store.incidents import Incidents
from intake.store.links import Candidate, Links
from intake.store.mail_events import MailEvents
from intake.store.optouts import OptOuts
from intake.store.outbound import OutboundQueries
from intake.store.privacy import ErasureCounts, Privacy
from intake.store.referrals import DuplicateMessage, ReferenceTaken, ReferralQueries
from intake.store.rekey import Rekey
from intake.store.retention import Retention
from intake.store.schema import metadata
from intake.store.search import SearchIndex, query_terms
from intake.store.sessions import Session, Sessions
from intake.store.users import ROLES, User, UserExists, Users
from intake.store.work import Work
from intake.store.worklist import STATUS_FILTERS, QueueFilter, QueuePage, QueueRow, Worklist

__all__ = [
    "ROLES",
    "STATUS_FILTERS",
    "Candidate",
    "Conversation",
    "DuplicateMessage",
    "ErasureCounts",
    "Keyring",
    "QueueFilter",
    "QueuePage",
    "QueueRow",
    "ReferenceTaken",
    "Session",
    "Store",
    "UTCDateTime",
    "User",
    "UserExists",
    "audit_entry",
    "make_engine",
    "metadata",
    "normalise_url",
]


class Store(ReferralQueries, OutboundQueries, AuditQueries):
    """Every query intake makes, over one engine (see the module docstring for the layout)."""

    def __init__(self, engine: Engine, keyring: Keyring | None = None) -> None:
        crypto.install(engine, keyring)
        super().__init__(Database(engine))
        self.engine = engine
        self.attachments = Attachments(self.db)
        self.mail_events = MailEvents(self.db)
        self.calls = Calls(self.db)
        self.conversations = Conversations(self.db)
        self.optouts = OptOuts(self.db)
        self.links = Links(self.db)
        self.forwards = Forwards(self.db)
        self.users = Users(self.db)
        self.sessions = Sessions(self.db)
        self.incidents = Incidents(self.db)
        self.work = Work(self.db)
        self.worklist = Worklist(self.db)
        self.search = SearchIndex(self.db)
        self.corrections = Corrections(self.db)
        self.desk = Desk(self.db)
        self.privacy = Privacy(self.db)
        self.retention = Retention(self.db)
        self.rekey = Rekey(self.db)

    @classmethod
    def from_url(cls, url: str, keyring: Keyring | None = None) -> Store:
        """A store on `url`; with `keyring`, encrypting at rest (`intake.store.crypto`)."""
        return cls(make_engine(url), keyring)

    def search_digest(self, query: str) -> list[str]:
        """What an audit entry keeps of a search: its terms as the blind index stores them
        (keyed hashes, `intake.store.search`), never the words, names or numbers typed. Whether
        someone searched for a given person can still be checked by hashing that person's terms
        with the same key."""
        keyring = crypto.keyring_of(self.engine.dialect)
        found = query_terms(query)
        return [keyring.blind(t) for t in found] if keyring is not None else found

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Everything the store writes inside the block commits (or rolls back) together."""
        with self.db.transaction() as conn:
            yield conn

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """One connection for a whole job's reads and writes (`Database.pinned`)."""
        with self.db.pinned():
            yield

    def upgrade(self, *, auto: bool = True) -> None:
        """Bring the schema to this code's head revision (see `intake.store.migrate`)."""
        migrate.ensure_current(self.engine, auto_upgrade=auto)

    def migrate_to(self, revision: str = "head") -> tuple[str | None, str | None]:
        """`intake db upgrade`: the revisions before and after."""
        return migrate.upgrade(self.engine, revision)

    def revision(self) -> str | None:
        """`intake db current`: the revision the database is at."""
        return migrate.current(self.engine)

    def after_fork(self) -> None:
        """In a forked child: drop the parent's pooled connections without closing them.

        SQLAlchemy's pool does not survive fork: a child using the parent's pooled socket would
        share one PostgreSQL session with it. `dispose(close=False)` is the documented remedy
        ("Using Connection Pools with Multiprocessing or os.fork()"); the child opens its own.
        """
        self.engine.dispose(close=False)

    def drop_schema(self) -> None:
        """Drop every table and the migration history (tests start from nothing)."""
        metadata.drop_all(self.engine)
        with self.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))

    def dispose(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
