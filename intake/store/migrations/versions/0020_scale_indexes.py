"""Indexes for a large store (issue 20): reads that stay flat as referrals accumulate.

Revision ID: 0020
Revises: 0018
Create Date: 2026-11-30

- `ix_referrals_list` on `(urgency_rank, received_at, id)`: the API's list order, so a page (and
  a keyset page, `after=`) is an index range read rather than a sort of every referral.
- `ix_referrals_open_received` on `received_at`, only for referrals not closed (a partial index
  on PostgreSQL and SQLite): the duplicate-matching pool (`Links.candidates`) reads the newest
  open referrals in the merge window, and the closed ones, nearly all of a store after a year,
  are not in it to be stepped over.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None

NOT_CLOSED = sa.text("status <> 'closed'")


def upgrade() -> None:
    op.create_index("ix_referrals_list", "referrals", ["urgency_rank", "received_at", "id"])
    op.create_index(
        "ix_referrals_open_received",
        "referrals",
        ["received_at"],
        postgresql_where=NOT_CLOSED,
        sqlite_where=NOT_CLOSED,
    )


def downgrade() -> None:
    op.drop_index("ix_referrals_open_received", table_name="referrals")
    op.drop_index("ix_referrals_list", table_name="referrals")
