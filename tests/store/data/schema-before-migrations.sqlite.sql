CREATE TABLE dashboard_login_attempts (
	id INTEGER NOT NULL, 
	email VARCHAR(320) NOT NULL, 
	at DATETIME NOT NULL, 
	succeeded BOOLEAN NOT NULL, 
	client VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_login_attempts_email ON dashboard_login_attempts (email, at);

CREATE TABLE dashboard_users (
	id INTEGER NOT NULL, 
	email VARCHAR(320) NOT NULL, 
	password_hash VARCHAR(255) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	active BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (email)
);

CREATE TABLE referrals (
	id INTEGER NOT NULL, 
	reference VARCHAR(16) NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	sender VARCHAR(320) NOT NULL, 
	received_at DATETIME NOT NULL, 
	raw_text TEXT NOT NULL, 
	urgency VARCHAR(16) NOT NULL, 
	urgency_rank INTEGER NOT NULL, 
	safeguarding JSON NOT NULL, 
	screening JSON NOT NULL, 
	fields JSON NOT NULL, 
	status VARCHAR(24) NOT NULL, 
	forward_status VARCHAR(24) NOT NULL, 
	safe_to_contact BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (reference)
);

CREATE INDEX ix_referrals_queue ON referrals (status, urgency_rank, received_at);

CREATE INDEX ix_referrals_received ON referrals (received_at);

CREATE INDEX ix_referrals_sender ON referrals (sender);

CREATE TABLE sms_optouts (
	phone VARCHAR(64) NOT NULL, 
	opted_out BOOLEAN NOT NULL, 
	keyword VARCHAR(32) NOT NULL, 
	provider_id VARCHAR(255) NOT NULL, 
	changed_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (phone)
);

CREATE TABLE voice_calls (
	id INTEGER NOT NULL, 
	call_sid VARCHAR(64) NOT NULL, 
	sender VARCHAR(64) NOT NULL, 
	recipient VARCHAR(64) NOT NULL, 
	withheld BOOLEAN NOT NULL, 
	outcome VARCHAR(16) NOT NULL, 
	call_status VARCHAR(24) NOT NULL, 
	call_duration INTEGER, 
	menu_choice VARCHAR(16), 
	recording_sid VARCHAR(64), 
	recording_url TEXT, 
	recording_duration INTEGER, 
	recording_at DATETIME, 
	transcript TEXT, 
	transcript_status VARCHAR(16), 
	transcript_engine VARCHAR(32), 
	called_back_at DATETIME, 
	called_back_by VARCHAR(320), 
	started_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (call_sid)
);

CREATE INDEX ix_voice_calls_outcome ON voice_calls (outcome, started_at);

CREATE TABLE audit_log (
	id INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	actor VARCHAR(320) NOT NULL, 
	action VARCHAR(64) NOT NULL, 
	referral_id INTEGER, 
	detail JSON NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id)
);

CREATE INDEX ix_audit_referral ON audit_log (referral_id, at);

CREATE TABLE dashboard_field_edits (
	id INTEGER NOT NULL, 
	referral_id INTEGER NOT NULL, 
	field VARCHAR(64) NOT NULL, 
	old_value TEXT, 
	new_value TEXT, 
	editor VARCHAR(320) NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id)
);

CREATE INDEX ix_dashboard_field_edits_referral ON dashboard_field_edits (referral_id);

CREATE TABLE dashboard_notes (
	id INTEGER NOT NULL, 
	referral_id INTEGER NOT NULL, 
	author VARCHAR(320) NOT NULL, 
	body TEXT NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id)
);

CREATE INDEX ix_dashboard_notes_referral ON dashboard_notes (referral_id);

CREATE TABLE dashboard_referral_work (
	referral_id INTEGER NOT NULL, 
	claimed_by VARCHAR(320), 
	claimed_at DATETIME, 
	triaged_by VARCHAR(320), 
	triaged_at DATETIME, 
	outcome VARCHAR(64), 
	closed_by VARCHAR(320), 
	closed_at DATETIME, 
	PRIMARY KEY (referral_id), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id)
);

CREATE TABLE forward_events (
	id INTEGER NOT NULL, 
	referral_id INTEGER NOT NULL, 
	reference VARCHAR(16) NOT NULL, 
	event_id VARCHAR(64) NOT NULL, 
	event VARCHAR(16) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	priority VARCHAR(16) NOT NULL, 
	job_id VARCHAR(200), 
	replay_after INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_forward_events_event UNIQUE (reference, event_id), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id)
);

CREATE INDEX ix_forward_events_referral ON forward_events (referral_id);

CREATE INDEX ix_forward_events_status ON forward_events (status);

CREATE TABLE mail_events (
	id INTEGER NOT NULL, 
	provider_id VARCHAR(255) NOT NULL, 
	kind VARCHAR(24) NOT NULL, 
	referral_id INTEGER, 
	sender VARCHAR(320) NOT NULL, 
	recipient VARCHAR(320) NOT NULL, 
	subject TEXT NOT NULL, 
	reason TEXT NOT NULL, 
	detail TEXT NOT NULL, 
	received_at DATETIME NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (provider_id), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id)
);

CREATE INDEX ix_mail_events_referral ON mail_events (referral_id);

CREATE TABLE messages (
	id INTEGER NOT NULL, 
	referral_id INTEGER NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	provider_id VARCHAR(255) NOT NULL, 
	sender VARCHAR(320) NOT NULL, 
	recipient VARCHAR(320) NOT NULL, 
	body TEXT NOT NULL, 
	received_at DATETIME NOT NULL, 
	meta JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_messages_provider UNIQUE (channel, provider_id), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id)
);

CREATE INDEX ix_messages_referral ON messages (referral_id);

CREATE TABLE outbound (
	id INTEGER NOT NULL, 
	referral_id INTEGER, 
	kind VARCHAR(24) NOT NULL, 
	dedupe_key VARCHAR(255), 
	channel VARCHAR(16) NOT NULL, 
	recipient VARCHAR(320) NOT NULL, 
	body TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	provider_id VARCHAR(255), 
	detail TEXT, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id), 
	UNIQUE (dedupe_key)
);

CREATE INDEX ix_outbound_referral ON outbound (referral_id);

CREATE TABLE referral_links (
	id INTEGER NOT NULL, 
	referral_id INTEGER NOT NULL, 
	other_id INTEGER NOT NULL, 
	reason VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	decided_at DATETIME, 
	decided_by VARCHAR(320), 
	PRIMARY KEY (id), 
	CONSTRAINT uq_referral_links_pair UNIQUE (referral_id, other_id), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id), 
	FOREIGN KEY(other_id) REFERENCES referrals (id)
);

CREATE INDEX ix_referral_links_other ON referral_links (other_id);

CREATE TABLE sms_conversations (
	referral_id INTEGER NOT NULL, 
	phone VARCHAR(64) NOT NULL, 
	asked JSON NOT NULL, 
	pending VARCHAR(32), 
	stopped VARCHAR(32), 
	last_activity_at DATETIME NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (referral_id), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id)
);

CREATE INDEX ix_sms_conversations_phone ON sms_conversations (phone, last_activity_at);

CREATE TABLE attachments (
	id INTEGER NOT NULL, 
	referral_id INTEGER NOT NULL, 
	message_id INTEGER NOT NULL, 
	position INTEGER NOT NULL, 
	filename VARCHAR(255) NOT NULL, 
	content_type VARCHAR(255) NOT NULL, 
	size INTEGER NOT NULL, 
	data BLOB NOT NULL, 
	text TEXT, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_attachments_position UNIQUE (message_id, position), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id), 
	FOREIGN KEY(message_id) REFERENCES messages (id)
);

CREATE INDEX ix_attachments_referral ON attachments (referral_id);

CREATE TABLE forward_attempts (
	id INTEGER NOT NULL, 
	forward_event_id INTEGER NOT NULL, 
	referral_id INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	attempt INTEGER NOT NULL, 
	target VARCHAR(32) NOT NULL, 
	destination VARCHAR(500) NOT NULL, 
	status_code INTEGER, 
	latency_ms FLOAT, 
	outcome VARCHAR(16) NOT NULL, 
	error TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(forward_event_id) REFERENCES forward_events (id), 
	FOREIGN KEY(referral_id) REFERENCES referrals (id)
);

CREATE INDEX ix_forward_attempts_event ON forward_attempts (forward_event_id);

CREATE INDEX ix_forward_attempts_referral ON forward_attempts (referral_id, at);
