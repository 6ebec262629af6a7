"""`intake privacy reencrypt`: every encrypted value written again with the newest key.

After a new key is put first in `INTAKE_ENCRYPTION_KEYS` (the old ones after it), this reads
every encrypted column (`intake.store.crypto`), which any listed key opens, and writes it back,
which the newest key encrypts; values stored before encryption was turned on are encrypted too.
Then the search index is rebuilt, so a new search key takes effect. Once it has finished, the
old keys can be removed. Batches of rows, each its own transaction: it can be stopped and run
again.
"""

from __future__ import annotations

import sqlalchemy as sa

from intake.store.crypto import EncryptedBytes, EncryptedJSON, EncryptedText
from intake.store.database import Queries
from intake.store.schema import metadata

ENCRYPTED = (EncryptedText, EncryptedBytes, EncryptedJSON)
BATCH = 500


def encrypted_columns() -> dict[sa.Table, list[sa.Column[object]]]:
    found: dict[sa.Table, list[sa.Column[object]]] = {}
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, ENCRYPTED)]
        if columns:
            found[table] = columns
    return found


class Rekey(Queries):
    """`store.rekey`."""

    def reencrypt(self) -> dict[str, int]:
        """Rows written again per table."""
        counts: dict[str, int] = {}
        for table, columns in encrypted_columns().items():
            key = table.c.id
            after, total = 0, 0
            while True:
                with self.db.transaction() as conn:
                    rows = conn.execute(
                        sa.select(key, *columns).where(key > after).order_by(key).limit(BATCH)
                    ).all()
                    for row in rows:
                        values = {c.name: row._mapping[c.name] for c in columns}
                        conn.execute(table.update().where(key == row.id).values(**values))
                if not rows:
                    break
                after = rows[-1].id
                total += len(rows)
            counts[table.name] = total
        return counts
