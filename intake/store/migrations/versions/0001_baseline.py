"""The schema as `create_all` made it before migrations (November 2026): adopts such a database.

Revision ID: 0001
Revises: -
Create Date: 2026-11-30

A database made by an earlier intake (tables created with `metadata.create_all` at start-up, no
`alembic_version`) has some or all of these tables already. This revision creates only what is
missing, table by table and index by index, so on such a database it fills gaps (an index added
after the first release) and on an empty one it creates everything. Later revisions are ordinary.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def _dashboard_login_attempts() -> None:
    op.create_table(
        "dashboard_login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def _dashboard_users() -> None:
    op.create_table(
        "dashboard_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )


def _referrals() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("raw_text", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("urgency_rank", sa.Integer(), nullable=False),
        sa.Column("safeguarding", sa.JSON(), nullable=False),
        sa.Column("screening", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("forward_status", sa.String(length=24), nullable=False),
        sa.Column("safe_to_contact", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )


def _sms_optouts() -> None:
    op.create_table(
        "sms_optouts",
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("keyword", sa.String(length=32), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("phone"),
    )


def _voice_calls() -> None:
    op.create_table(
        "voice_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("withheld", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("call_status", sa.String(length=24), nullable=False),
        sa.Column("call_duration", sa.Integer(), nullable=True),
        sa.Column("menu_choice", sa.String(length=16), nullable=True),
        sa.Column("recording_sid", sa.String(length=64), nullable=True),
        sa.Column("recording_url", sa.Text(), nullable=True),
        sa.Column("recording_duration", sa.Integer(), nullable=True),
        sa.Column("recording_at", TIMESTAMP, nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("transcript_status", sa.String(length=16), nullable=True),
        sa.Column("transcript_engine", sa.String(length=32), nullable=True),
        sa.Column("called_back_at", TIMESTAMP, nullable=True),
        sa.Column("called_back_by", sa.String(length=320), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_sid"),
    )


def _audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )


def _dashboard_field_edits() -> None:
    op.create_table(
        "dashboard_field_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("editor", sa.String(length=320), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )


def _dashboard_notes() -> None:
    op.create_table(
        "dashboard_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )


def _dashboard_referral_work() -> None:
    op.create_table(
        "dashboard_referral_work",
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=320), nullable=True),
        sa.Column("claimed_at", TIMESTAMP, nullable=True),
        sa.Column("triaged_by", sa.String(length=320), nullable=True),
        sa.Column("triaged_at", TIMESTAMP, nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("closed_by", sa.String(length=320), nullable=True),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("referral_id"),
    )


def _forward_events() -> None:
    op.create_table(
        "forward_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=True),
        sa.Column("replay_after", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference", "event_id", name="uq_forward_events_event"),
    )


def _mail_events() -> None:
    op.create_table(
        "mail_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id"),
    )


def _messages() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "provider_id", name="uq_messages_provider"),
    )


def _outbound() -> None:
    op.create_table(
        "outbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )


def _referral_links() -> None:
    op.create_table(
        "referral_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["other_id"],
            ["referrals.id"],
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("referral_id", "other_id", name="uq_referral_links_pair"),
    )


def _sms_conversations() -> None:
    op.create_table(
        "sms_conversations",
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("asked", sa.JSON(), nullable=False),
        sa.Column("pending", sa.String(length=32), nullable=True),
        sa.Column("stopped", sa.String(length=32), nullable=True),
        sa.Column("last_activity_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("referral_id"),
    )


def _attachments() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "position", name="uq_attachments_position"),
    )


def _forward_attempts() -> None:
    op.create_table(
        "forward_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("forward_event_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("destination", sa.String(length=500), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["forward_event_id"],
            ["forward_events.id"],
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )


# (table, how to create it, its indexes: name, columns, unique), parents before children.
TABLES: list[tuple[str, Callable[[], None], list[tuple[str, list[str], bool]]]] = [
    (
        "dashboard_login_attempts",
        _dashboard_login_attempts,
        [
            ("ix_login_attempts_email", ["email", "at"], False),
        ],
    ),
    ("dashboard_users", _dashboard_users, []),
    (
        "referrals",
        _referrals,
        [
            ("ix_referrals_queue", ["status", "urgency_rank", "received_at"], False),
            ("ix_referrals_received", ["received_at"], False),
            ("ix_referrals_sender", ["sender"], False),
        ],
    ),
    ("sms_optouts", _sms_optouts, []),
    (
        "voice_calls",
        _voice_calls,
        [
            ("ix_voice_calls_outcome", ["outcome", "started_at"], False),
        ],
    ),
    (
        "audit_log",
        _audit_log,
        [
            ("ix_audit_referral", ["referral_id", "at"], False),
        ],
    ),
    (
        "dashboard_field_edits",
        _dashboard_field_edits,
        [
            ("ix_dashboard_field_edits_referral", ["referral_id"], False),
        ],
    ),
    (
        "dashboard_notes",
        _dashboard_notes,
        [
            ("ix_dashboard_notes_referral", ["referral_id"], False),
        ],
    ),
    ("dashboard_referral_work", _dashboard_referral_work, []),
    (
        "forward_events",
        _forward_events,
        [
            ("ix_forward_events_referral", ["referral_id"], False),
            ("ix_forward_events_status", ["status"], False),
        ],
    ),
    (
        "mail_events",
        _mail_events,
        [
            ("ix_mail_events_referral", ["referral_id"], False),
        ],
    ),
    (
        "messages",
        _messages,
        [
            ("ix_messages_referral", ["referral_id"], False),
        ],
    ),
    (
        "outbound",
        _outbound,
        [
            ("ix_outbound_referral", ["referral_id"], False),
        ],
    ),
    (
        "referral_links",
        _referral_links,
        [
            ("ix_referral_links_other", ["other_id"], False),
        ],
    ),
    (
        "sms_conversations",
        _sms_conversations,
        [
            ("ix_sms_conversations_phone", ["phone", "last_activity_at"], False),
        ],
    ),
    (
        "attachments",
        _attachments,
        [
            ("ix_attachments_referral", ["referral_id"], False),
        ],
    ),
    (
        "forward_attempts",
        _forward_attempts,
        [
            ("ix_forward_attempts_event", ["forward_event_id"], False),
            ("ix_forward_attempts_referral", ["referral_id", "at"], False),
        ],
    ),
]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    present = set(inspector.get_table_names())
    for name, create, indexes in TABLES:
        if name not in present:
            create()
            made: set[str] = set()
        else:
            made = {i["name"] for i in inspector.get_indexes(name)}
        for index, columns, unique in indexes:
            if index not in made:
                op.create_index(index, name, columns, unique=unique)


def downgrade() -> None:
    for name, _create, _indexes in reversed(TABLES):
        op.drop_table(name)
