"""Every table intake keeps, in one place; `intake/store/migrations/` changes them.

The models here are the truth the migrations must reach: `tests/store/test_migrations.py` checks
that upgrading an empty database to head gives exactly this schema, on SQLite and PostgreSQL.
A change to a table goes here and into a new migration in the same commit.

Columns of type `EncryptedText`, `EncryptedBytes`, `EncryptedJSON` are encrypted at rest and
`BlindTerm` is a keyed hash (`intake.store.crypto`); their database types are plain Text,
LargeBinary, JSON and String(64).
"""

from __future__ import annotations

import sqlalchemy as sa

from intake.models import utcnow
from intake.store.crypto import BlindTerm, EncryptedBytes, EncryptedJSON, EncryptedText
from intake.store.database import UTCDateTime

metadata = sa.MetaData()

referrals = sa.Table(
    "referrals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("reference", sa.String(16), nullable=False, unique=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("sender", sa.String(320), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("raw_text", EncryptedText, nullable=False, default=""),
    sa.Column("urgency", sa.String(16), nullable=False, default="routine"),
    sa.Column("urgency_rank", sa.Integer, nullable=False, default=2),
    sa.Column("safeguarding", sa.JSON, nullable=False, default=list),
    sa.Column("screening", EncryptedJSON, nullable=False, default=dict),  # quotes phrases
    sa.Column("fields", EncryptedJSON, nullable=False, default=dict),
    sa.Column("status", sa.String(24), nullable=False, default="open"),
    sa.Column("forward_status", sa.String(24), nullable=False, default="pending"),
    sa.Column("safe_to_contact", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    # The advocate who last set the urgency by hand; screening never overrides them (0002).
    sa.Column("urgency_decided_by", sa.String(320), nullable=True),
    # A message came that nobody has seen since the referral was triaged or decided (0002).
    sa.Column("new_message_at", UTCDateTime, nullable=True),
    # The language the messages are in, and the one the person asked for (0018).
    sa.Column("language", sa.String(16), nullable=True),
    sa.Column("language_preference", sa.String(16), nullable=True),
    # The nearest statutory deadline (`screening["deadline"]`), for the queue's order (0017).
    sa.Column("deadline_on", sa.Date, nullable=True),
    # Data protection (0016): a legal hold stops retention; `erased_at` marks a referral whose
    # personal data was erased (UK GDPR Art. 17), kept as an anonymised row for statistics.
    sa.Column("legal_hold", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("legal_hold_reason", sa.Text, nullable=True),
    sa.Column("erased_at", UTCDateTime, nullable=True),
    sa.Index("ix_referrals_queue", "status", "urgency_rank", "received_at"),
    sa.Index("ix_referrals_sender", "sender"),
    # Duplicate matching reads the newest open referrals within the merge window
    # (`intake.merge._candidates`): a range on received_at, newest first, at most 500 rows.
    sa.Index("ix_referrals_received", "received_at"),
    # The API's list order, so a page or a keyset page (`after=`) is a range read (0020).
    sa.Index("ix_referrals_list", "urgency_rank", "received_at", "id"),
    # The duplicate pool reads only referrals not closed: without the closed ones, nearly all of
    # a store after a year, to step over (0020).
    sa.Index(
        "ix_referrals_open_received",
        "received_at",
        postgresql_where=sa.text("status <> 'closed'"),
        sqlite_where=sa.text("status <> 'closed'"),
    ),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("provider_id", sa.String(255), nullable=False),
    sa.Column("sender", sa.String(320), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False, default=""),
    sa.Column("body", EncryptedText, nullable=False, default=""),
    sa.Column("received_at", UTCDateTime, nullable=False),
    # subject, headers, transcripts, recording links: as personal as the body
    sa.Column("meta", EncryptedJSON, nullable=False, default=dict),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.UniqueConstraint("channel", "provider_id", name="uq_messages_provider"),
    sa.Index("ix_messages_referral", "referral_id"),
)

outbound = sa.Table(
    "outbound",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=True),
    sa.Column("kind", sa.String(24), nullable=False),  # ack, question, alert, reply
    sa.Column("dedupe_key", sa.String(255), nullable=True, unique=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("body", EncryptedText, nullable=False, default=""),
    sa.Column("status", sa.String(16), nullable=False, default="sending"),
    sa.Column("provider_id", sa.String(255), nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    sa.Index("ix_outbound_referral", "referral_id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("actor", sa.String(320), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=True),
    sa.Column("detail", sa.JSON, nullable=False, default=dict),
    # The hash chain (0016, `intake.store.audit`): rows are sealed in `seq` order; each carries
    # the SHA-256 of its details (`digest`), so details can be redacted without breaking the
    # chain, the previous row's hash and its own.
    sa.Column("seq", sa.Integer, nullable=True),
    sa.Column("digest", sa.String(64), nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=True),
    sa.Column("row_hash", sa.String(64), nullable=True),
    sa.UniqueConstraint("seq", name="uq_audit_log_seq"),
    sa.Index("ix_audit_referral", "referral_id", "at"),
)

# Files that came with a message (email attachments: referral forms, photos), kept with the
# referral so the dashboard can offer them; `text` is what was extracted for screening.
attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("data", EncryptedBytes, nullable=False),
    sa.Column("text", EncryptedText, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.UniqueConstraint("message_id", "position", name="uq_attachments_position"),
    sa.Index("ix_attachments_referral", "referral_id"),
)

# Mail that is not a referral (out-of-office replies, bounces): recorded so a person can see
# that an acknowledgement bounced, never turned into a referral or answered.
mail_events = sa.Table(
    "mail_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("provider_id", sa.String(255), nullable=False, unique=True),
    sa.Column("kind", sa.String(24), nullable=False),  # auto_reply, bounce
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=True),
    sa.Column("sender", sa.String(320), nullable=False, default=""),
    sa.Column("recipient", sa.String(320), nullable=False, default=""),
    sa.Column("subject", EncryptedText, nullable=False, default=""),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("detail", EncryptedText, nullable=False, default=""),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Index("ix_mail_events_referral", "referral_id"),
)


# Phone calls to the voicemail line, one row per Twilio CallSid (issue 4). A call becomes a
# referral when it leaves a voicemail or chooses the emergency menu option; hang-ups and
# recordings under a couple of seconds stay here as `missed` calls for the call-back list.
voice_calls = sa.Table(
    "voice_calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("call_sid", sa.String(64), nullable=False, unique=True),
    sa.Column("sender", sa.String(64), nullable=False, default=""),
    sa.Column("recipient", sa.String(64), nullable=False, default=""),
    sa.Column("withheld", sa.Boolean, nullable=False, default=False),
    sa.Column("outcome", sa.String(16), nullable=False, default="in_progress"),
    sa.Column("call_status", sa.String(24), nullable=False, default=""),
    sa.Column("call_duration", sa.Integer, nullable=True),
    sa.Column("menu_choice", sa.String(16), nullable=True),
    sa.Column("recording_sid", sa.String(64), nullable=True),
    sa.Column("recording_url", sa.Text, nullable=True),
    sa.Column("recording_duration", sa.Integer, nullable=True),
    sa.Column("recording_at", UTCDateTime, nullable=True),
    sa.Column("transcript", EncryptedText, nullable=True),
    sa.Column("transcript_status", sa.String(16), nullable=True),
    sa.Column("transcript_engine", sa.String(32), nullable=True),
    sa.Column("called_back_at", UTCDateTime, nullable=True),
    sa.Column("called_back_by", sa.String(320), nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    sa.Index("ix_voice_calls_outcome", "outcome", "started_at"),
)


# SMS conversations (issue 6): one row per SMS referral, so a later text from the same number
# within the window joins it and the questions asked so far are known (`intake.conversation`).
sms_conversations = sa.Table(
    "sms_conversations",
    metadata,
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), primary_key=True),
    sa.Column("phone", sa.String(64), nullable=False),
    sa.Column("asked", sa.JSON, nullable=False, default=list),
    sa.Column("pending", sa.String(32), nullable=True),
    sa.Column("stopped", sa.String(32), nullable=True),
    sa.Column("last_activity_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Index("ix_sms_conversations_phone", "phone", "last_activity_at"),
)

# Our own SMS suppression list (STOP ... START), kept even though Twilio keeps one: nothing is
# sent to a number while `opted_out` is true (`intake.optout`, checked in `intake.outbound`).
sms_optouts = sa.Table(
    "sms_optouts",
    metadata,
    sa.Column("phone", sa.String(64), primary_key=True),
    sa.Column("opted_out", sa.Boolean, nullable=False),
    sa.Column("keyword", sa.String(32), nullable=False, default=""),
    sa.Column("provider_id", sa.String(255), nullable=False, default=""),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
)

# Possible duplicates a person should look at (same name and postcode, different contact ...):
# linked, never merged automatically (`intake.merge`).
referral_links = sa.Table(
    "referral_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("other_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="suggested"),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("decided_by", sa.String(320), nullable=True),
    sa.UniqueConstraint("referral_id", "other_id", name="uq_referral_links_pair"),
    sa.Index("ix_referral_links_other", "other_id"),
)


# -- forwarding to the case system (intake.forwarding) --------------------------------------

# Event states: queued, retrying, delivered, failed (attempts used up), rejected (refused).
forward_events = sa.Table(
    "forward_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("reference", sa.String(16), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="queued"),
    sa.Column("priority", sa.String(16), nullable=False, default="default"),
    sa.Column("job_id", sa.String(200), nullable=True),
    # Attempts up to this number came before the last replay: their rejections no longer count.
    sa.Column("replay_after", sa.Integer, nullable=False, default=0),
    # A digest of what the case system was sent (0002): an update that would send the same
    # again is not made.
    sa.Column("state", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    sa.UniqueConstraint("reference", "event_id", name="uq_forward_events_event"),
    sa.Index("ix_forward_events_referral", "referral_id"),
    sa.Index("ix_forward_events_status", "status"),
)

forward_attempts = sa.Table(
    "forward_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("forward_event_id", sa.Integer, sa.ForeignKey("forward_events.id"), nullable=False),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("target", sa.String(32), nullable=False),
    sa.Column("destination", sa.String(500), nullable=False, default=""),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),  # delivered, retry, failed, rejected
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_forward_attempts_referral", "referral_id", "at"),
    sa.Index("ix_forward_attempts_event", "forward_event_id"),
)


# -- the dashboard: staff accounts, log-in attempts, advocates' work ------------------------

users = sa.Table(
    "dashboard_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    # Failed log-ins before this moment no longer count towards a lock-out (an unlock, 0003).
    sa.Column("unlocked_at", UTCDateTime, nullable=True),
    # When the password last changed (0004): sessions that began before it are refused.
    sa.Column("password_changed_at", UTCDateTime, nullable=True),
    # The second factor (0016, `intake.users`): a TOTP secret (RFC 6238), encrypted; in use once
    # confirmed; the last time step used (a code works once); SHA-256 of unused recovery codes.
    sa.Column("totp_secret", EncryptedText, nullable=True),
    sa.Column("totp_confirmed_at", UTCDateTime, nullable=True),
    sa.Column("totp_last_step", sa.Integer, nullable=True),
    sa.Column("recovery_codes", sa.JSON, nullable=True),
)

login_attempts = sa.Table(
    "dashboard_login_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("succeeded", sa.Boolean, nullable=False),
    sa.Column("client", sa.String(64), nullable=False, default=""),
    # The browser's device token when it had one from an earlier log-in (0004), so its own
    # failures, not a stranger's, decide how long it waits (`intake.users`).
    sa.Column("device", sa.String(64), nullable=True),
    sa.Index("ix_login_attempts_email", "email", "at"),
    sa.Index("ix_login_attempts_client", "client", "at"),
)

# Dashboard sessions (0004): the signed cookie carries a random token, this row is the session,
# so it can be ended (log-out, a password change, a disabled account) wherever the cookie went.
# Only the token's SHA-256 is kept: reading this table does not give anyone a session.
sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("client", sa.String(64), nullable=False, default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime, nullable=True),
    sa.Column("ended_reason", sa.String(32), nullable=True),
    sa.Index("ix_dashboard_sessions_email", "email"),
)

referral_work = sa.Table(
    "dashboard_referral_work",
    metadata,
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), primary_key=True),
    sa.Column("claimed_by", sa.String(320), nullable=True),
    sa.Column("claimed_at", UTCDateTime, nullable=True),
    sa.Column("triaged_by", sa.String(320), nullable=True),
    sa.Column("triaged_at", UTCDateTime, nullable=True),
    sa.Column("outcome", sa.String(64), nullable=True),
    sa.Column("closed_by", sa.String(320), nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
)

notes = sa.Table(
    "dashboard_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("author", sa.String(320), nullable=False),
    sa.Column("body", EncryptedText, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Index("ix_dashboard_notes_referral", "referral_id"),
)

field_edits = sa.Table(
    "dashboard_field_edits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("old_value", EncryptedText, nullable=True),
    sa.Column("new_value", EncryptedText, nullable=True),
    sa.Column("editor", sa.String(320), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Index("ix_dashboard_field_edits_referral", "referral_id"),
)


# -- the duty desk (0003): search, corrections, saved filters, notices ----------------------

# The search index (`intake.store.search`): one row per word of a referral (its reference,
# sender, fields and every message), so a search is an indexed lookup, never a scan of bodies.
# With keys installed each term is kept as its keyed hash (HMAC), a blind index (`crypto`).
search_terms = sa.Table(
    "search_terms",
    metadata,
    sa.Column("term", BlindTerm, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), primary_key=True),
    sa.Index("ix_search_terms_referral", "referral_id"),
)

# An advocate's correction of what screening said (urgency or safeguarding categories), with the
# reason: the audit says who and when, this keeps the labels for retraining
# (`intake export corrections`). Keyed by referral, so erasing a person reaches them.
screening_corrections = sa.Table(
    "screening_corrections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("actor", sa.String(320), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # urgency, safeguarding
    sa.Column("before", sa.JSON, nullable=True),
    sa.Column("after", sa.JSON, nullable=True),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Index("ix_screening_corrections_referral", "referral_id", "at"),
)

# A queue filter an advocate named and kept ("my urgent Care Act referrals").
saved_filters = sa.Table(
    "dashboard_saved_filters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner", sa.String(320), nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("query", sa.String(1000), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.UniqueConstraint("owner", "name", name="uq_saved_filters_owner_name"),
)

# Notices to a member of staff inside the dashboard ("REF-… was reassigned to Sam").
notices = sa.Table(
    "dashboard_notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), nullable=True),
    sa.Column("text", sa.String(500), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("read_at", UTCDateTime, nullable=True),
    sa.Index("ix_dashboard_notices_recipient", "recipient", "read_at"),
)

# -- floods (0004): a burst of referrals from senders with no history, shown as one incident ----

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(24), nullable=False),  # burst
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("last_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("closed_by", sa.String(320), nullable=True),
    sa.Index("ix_incidents_last", "last_at"),
)

incident_referrals = sa.Table(
    "incident_referrals",
    metadata,
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), primary_key=True),
    sa.Column("referral_id", sa.Integer, sa.ForeignKey("referrals.id"), primary_key=True),
    sa.Index("ix_incident_referrals_referral", "referral_id"),
)


# -- data protection (0016) -----------------------------------------------------------------

# An erasure asked for in the dashboard: one manager asks, with a reason; a second manager
# confirms, and only then is anything erased. `value` (the phone, email or reference named) is
# cleared once the request is carried out or withdrawn, so the request row keeps who and why,
# not whom.
erasure_requests = sa.Table(
    "erasure_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # phone, email, reference
    sa.Column("value", sa.String(320), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("requested_by", sa.String(320), nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False, default=utcnow),
    sa.Column("status", sa.String(16), nullable=False, default="pending"),  # done, withdrawn
    sa.Column("decided_by", sa.String(320), nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("counts", sa.JSON, nullable=False, default=dict),
    sa.Index("ix_erasure_requests_status", "status", "requested_at"),
)
