"""The duty desk: search index, screening corrections, saved filters, notices, unlocking.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

- `search_terms`: the words of each referral, for search by what people wrote (`intake.store.
  search`); built here for every referral already stored.
- `screening_corrections`: advocates' corrections of urgency and safeguarding categories, with
  their reasons, for retraining (`intake export corrections`).
- `dashboard_saved_filters`, `dashboard_notices`: an advocate's named queue filters; notices
  such as "a referral you had was reassigned".
- `dashboard_users.unlocked_at`: failed log-ins before it no longer lock the account.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "search_terms",
        sa.Column("term", sa.String(64), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"]),
        sa.PrimaryKeyConstraint("term", "referral_id"),
    )
    op.create_index("ix_search_terms_referral", "search_terms", ["referral_id"])
    op.create_table(
        "screening_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_screening_corrections_referral", "screening_corrections", ["referral_id", "at"]
    )
    op.create_table(
        "dashboard_saved_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(320), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("query", sa.String(1000), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner", "name", name="uq_saved_filters_owner_name"),
    )
    op.create_table(
        "dashboard_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("read_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_dashboard_notices_recipient", "dashboard_notices", ["recipient", "read_at"]
    )
    with op.batch_alter_table("dashboard_users") as batch:
        batch.add_column(sa.Column("unlocked_at", TIMESTAMP, nullable=True))
    _index_existing_referrals()


def _index_existing_referrals() -> None:
    from intake.store import search

    conn = op.get_bind()
    ids = list(conn.execute(sa.text("SELECT id FROM referrals ORDER BY id")).scalars())
    for start in range(0, len(ids), 500):
        search.refresh(conn, ids[start : start + 500])


def downgrade() -> None:
    with op.batch_alter_table("dashboard_users") as batch:
        batch.drop_column("unlocked_at")
    op.drop_index("ix_dashboard_notices_recipient", table_name="dashboard_notices")
    op.drop_table("dashboard_notices")
    op.drop_table("dashboard_saved_filters")
    op.drop_index("ix_screening_corrections_referral", table_name="screening_corrections")
    op.drop_table("screening_corrections")
    op.drop_index("ix_search_terms_referral", table_name="search_terms")
    op.drop_table("search_terms")
