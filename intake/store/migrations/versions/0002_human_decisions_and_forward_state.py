"""Advocates' urgency decisions, the "new message since triage" marker, forwarded state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

- `referrals.urgency_decided_by`: the advocate who last set the urgency by hand. A later message
  that screens higher no longer overwrites their decision; it sets the marker below instead.
- `referrals.new_message_at`: a message arrived that nobody has seen since the referral was
  triaged or its urgency decided; the dashboard brings such referrals back up.
- `forward_events.state`: a digest of the referral as it was forwarded, so an `updated` event is
  only made when something the case system sees has changed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("urgency_decided_by", sa.String(320), nullable=True))
        batch.add_column(sa.Column("new_message_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("forward_events") as batch:
        batch.add_column(sa.Column("state", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forward_events") as batch:
        batch.drop_column("state")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("new_message_at")
        batch.drop_column("urgency_decided_by")
