"""Languages (issue 18): the language a referral is in, and the one the person asked for.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30

- `referrals.language`: the ISO 639-1 code screening identified (None when too short/unknown).
- `referrals.language_preference`: the language the person asked to be written to in (stated in
  a message, or answered to the first acknowledgement's question), None until they say; used for
  every later reply, and for later referrals from the same address.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("language_preference", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("language_preference")
        batch.drop_column("language")
