"""Security (issue 15): revocable dashboard sessions, log-in throttling, flood incidents.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-30

- `dashboard_sessions`: one row per log-in; the cookie carries a random token whose SHA-256 is
  kept here, so log-out, a password change or a disabled account ends the session wherever the
  cookie was copied to.
- `dashboard_users.password_changed_at`: sessions that began before it are refused.
- `dashboard_login_attempts.device` and an index on `(client, at)`: throttling per browser that
  logged in before, and per client address.
- `incidents`, `incident_referrals`: a burst of referrals from senders with no history, shown
  to duty advocates as one incident.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=True),
        sa.Column("ended_reason", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_dashboard_sessions_email", "dashboard_sessions", ["email"])
    with op.batch_alter_table("dashboard_users") as batch:
        batch.add_column(sa.Column("password_changed_at", TIMESTAMP, nullable=True))
    with op.batch_alter_table("dashboard_login_attempts") as batch:
        batch.add_column(sa.Column("device", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_login_attempts_client", "dashboard_login_attempts", ["client", "at"]
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("last_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column("closed_by", sa.String(length=320), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_last", "incidents", ["last_at"])
    op.create_table(
        "incident_referrals",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"]),
        sa.PrimaryKeyConstraint("incident_id", "referral_id"),
    )
    op.create_index(
        "ix_incident_referrals_referral", "incident_referrals", ["referral_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_incident_referrals_referral", table_name="incident_referrals")
    op.drop_table("incident_referrals")
    op.drop_index("ix_incidents_last", table_name="incidents")
    op.drop_table("incidents")
    op.drop_index("ix_login_attempts_client", table_name="dashboard_login_attempts")
    with op.batch_alter_table("dashboard_login_attempts") as batch:
        batch.drop_column("device")
    with op.batch_alter_table("dashboard_users") as batch:
        batch.drop_column("password_changed_at")
    op.drop_index("ix_dashboard_sessions_email", table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
