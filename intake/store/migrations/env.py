"""Alembic's environment for intake: run by `intake.store.migrate`, never by the `alembic` script.

The connection comes from `intake.store.migrate` (in `config.attributes["connection"]`), so the
migrations run on exactly the database the process was configured with, inside one transaction.
SQLite cannot alter most of a table in place: `render_as_batch` makes Alembic copy and rename
instead (Alembic's "batch mode"), which is what every `op.batch_alter_table` here relies on.
"""

from __future__ import annotations

from alembic import context

from intake.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
