"""Data protection by design (issue 16): erasure requests, legal hold, erased referrals.

Revision ID: 0016
Revises: 0004
Create Date: 2026-11-30

- `referrals.legal_hold`, `referrals.legal_hold_reason`: a referral on hold is never touched by
  retention (`intake privacy retention`).
- `referrals.erased_at`: when the referral's personal data was erased (UK GDPR Article 17); the
  row is kept, anonymised, for statistics.
- `erasure_requests`: an erasure asked for by one manager and confirmed by a second.
- `dashboard_users.totp_*`, `.recovery_codes`: the second factor at log-in.
- `audit_log.seq`, `.digest`, `.prev_hash`, `.row_hash`: the tamper-evident hash chain; rows
  written before this revision are sealed by the first `seal` (the clock, or an erasure).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN (a constant default keeps it so on SQLite): a batch copy of `referrals`
    # would drop a table every other table refers to.
    op.add_column(
        "referrals",
        sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("referrals", sa.Column("legal_hold_reason", sa.Text(), nullable=True))
    op.add_column("referrals", sa.Column("erased_at", TIMESTAMP, nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_audit_log_seq", ["seq"])
    # nullable columns only: SQLite adds them in place
    op.add_column("dashboard_users", sa.Column("totp_secret", sa.Text(), nullable=True))
    op.add_column("dashboard_users", sa.Column("totp_confirmed_at", TIMESTAMP, nullable=True))
    op.add_column("dashboard_users", sa.Column("totp_last_step", sa.Integer(), nullable=True))
    op.add_column("dashboard_users", sa.Column("recovery_codes", sa.JSON(), nullable=True))
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=320), nullable=False),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_erasure_requests_status", "erasure_requests", ["status", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_erasure_requests_status", table_name="erasure_requests")
    op.drop_table("erasure_requests")
    with op.batch_alter_table("dashboard_users") as batch:
        for column in ("recovery_codes", "totp_last_step", "totp_confirmed_at", "totp_secret"):
            batch.drop_column(column)
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("uq_audit_log_seq", type_="unique")
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
        batch.drop_column("digest")
        batch.drop_column("seq")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("erased_at")
        batch.drop_column("legal_hold_reason")
        batch.drop_column("legal_hold")
