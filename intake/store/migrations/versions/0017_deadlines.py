"""Statutory deadlines (issue 17): the date the queue orders a referral's deadline by.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30

- `referrals.deadline_on`: the nearest statutory deadline the referral's eligibility card implies
  (section 2 tribunal deadline, IMCA decision date, complaint time limit), copied from its stored
  screening (`screening["deadline"]`) so that the queue can order by it in SQL; NULL when none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("deadline_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("deadline_on")
