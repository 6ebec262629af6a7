"""Migrations reach exactly the models' schema, and adopt a database made before migrations.

On SQLite and PostgreSQL (the `database_url` fixture runs each test on both):
- an empty database upgraded to head has every table, column, index and constraint `schema.py`
  declares, and nothing else (Alembic's own comparison, as `alembic revision --autogenerate`
  would see it);
- a database made by intake before migrations (`create_all`, no `alembic_version`; its DDL is
  frozen in `data/`) keeps its rows and ends at head with the same schema;
- with auto-upgrade off, a process refuses to start on an older schema and says what to run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from intake import cli
from intake.store import Store, migrate
from intake.store.schema import metadata

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def empty(database_url: str) -> Iterator[Store]:
    store = Store.from_url(database_url)
    store.drop_schema()
    yield store
    store.drop_schema()
    store.dispose()


def differences(store: Store) -> list[object]:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def make_pre_migration_database(store: Store) -> None:
    """The tables exactly as `create_all` made them before this change, and one referral."""
    dialect = store.engine.dialect.name
    ddl = (DATA / f"schema-before-migrations.{dialect}.sql").read_text()
    with store.engine.begin() as conn:
        for statement in ddl.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
        conn.execute(
            sa.text(
                "INSERT INTO referrals (reference, channel, sender, received_at, raw_text, "
                "urgency, urgency_rank, safeguarding, screening, fields, status, forward_status, "
                "safe_to_contact, created_at, updated_at) VALUES ('REF-ADPT22', 'sms', "
                "'+447700900123', :t, 'help please', 'urgent', 1, :sg, '{}', '{}', 'open', "
                "'delivered', :safe, :t, :t)"
            ),
            {"t": "2026-11-20 10:00:00", "sg": json.dumps(["neglect"]), "safe": True},
        )


def test_an_empty_database_upgraded_to_head_is_exactly_the_models(empty: Store) -> None:
    before, after = migrate.upgrade(empty.engine)
    assert (before, after) == (None, migrate.head())
    assert differences(empty) == []


def test_a_database_made_before_migrations_is_adopted_with_its_rows(empty: Store) -> None:
    make_pre_migration_database(empty)
    assert migrate.current(empty.engine) is None
    empty.upgrade()
    assert migrate.current(empty.engine) == migrate.head()
    assert differences(empty) == []
    kept = empty.get_referral("REF-ADPT22")
    assert kept is not None
    assert (kept.urgency, kept.safeguarding) == ("urgent", ["neglect"])
    assert kept.raw_text == "help please"


def test_adoption_adds_an_index_an_older_release_never_made(empty: Store) -> None:
    make_pre_migration_database(empty)
    with empty.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_referrals_received")
    empty.upgrade()
    names = {i["name"] for i in sa.inspect(empty.engine).get_indexes("referrals")}
    assert "ix_referrals_received" in names
    assert differences(empty) == []


def test_without_auto_upgrade_an_old_schema_stops_the_process_with_the_fix(empty: Store) -> None:
    make_pre_migration_database(empty)
    with pytest.raises(migrate.SchemaOutOfDate, match="run `intake db upgrade`"):
        empty.upgrade(auto=False)
    assert migrate.current(empty.engine) is None  # nothing was changed


def test_processes_starting_together_migrate_once(empty: Store) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        own = Store.from_url(empty.engine.url.render_as_string(hide_password=False))
        try:
            own.upgrade()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert migrate.current(empty.engine) == migrate.head()
    assert differences(empty) == []


def test_intake_db_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert cli.main(["db", "current"]) == 0
    assert "no revision" in capsys.readouterr().out
    assert cli.main(["db", "upgrade"]) == 0
    assert f"-> {migrate.head()}" in capsys.readouterr().out
    assert cli.main(["db", "current"]) == 0
    assert "up to date" in capsys.readouterr().out
