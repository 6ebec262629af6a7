"""Every setting checked when a process starts, so a wrong one stops it with one clear line.

With `CASE_SYSTEM=store,nosuch` the service used to start, and every job failed and retried
(issue 15). `problems(settings, process)` lists what cannot work, each naming the variable and
what it must be; `require(settings, process)` raises `ConfigError` with the first. The `intake`
command calls it before it builds anything (`intake.cli`), and prints the line and exits 2.

`process` is the one starting (`web`, `smtp`, `worker`, `clock`, `run`, `replay`): a rule that
only one process needs (the web process's public URL) is checked there.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from intake import languages, precheck
from intake.config import ConfigError, Settings

__all__ = ["LOG_LEVELS", "ConfigError", "problems", "require"]

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def _url(name: str, value: str, schemes: tuple[str, ...]) -> str | None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return f"{name} is not a URL: {value!r}"
    if parts.scheme not in schemes:
        return f"{name} must start with {' or '.join(s + '://' for s in schemes)}, not {value!r}"
    if not parts.hostname and parts.scheme not in ("sqlite", "unix"):
        return f"{name} has no host: {value!r}"
    return None


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _range(name: str, value: float, low: float, high: float | None = None) -> str | None:
    if value < low or (high is not None and value > high):
        upper = f" and {high:g}" if high is not None else " or more"
        return (
            f"{name} must be between {low:g}{upper}, not {value:g}"
            if high is not None
            else (f"{name} must be {low:g} or more, not {value:g}")
        )
    return None


def _contact(name: str, value: str) -> str | None:
    if _E164.match(value.replace(" ", "")) or _ADDRESS.match(value):
        return None
    return f"{name}: {value!r} is neither a phone number in E.164 (+44...) nor an email address"


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _forwarding(s: Settings) -> list[str | None]:
    """Each forwarder declares what it needs (`intake.forwarding.targets`); the shapes of its
    URLs are checked here with every other URL."""
    from intake.forwarding.targets import problems

    found: list[str | None] = list(problems(s))
    if "webhook" in s.case_system and s.case_webhook_url:
        found.append(_url("CASE_WEBHOOK_URL", s.case_webhook_url, ("https", "http")))
    if "fhir" in s.case_system and s.fhir_base_url:
        found.append(_url("FHIR_BASE_URL", s.fhir_base_url, ("https", "http")))
    if "charitylog" in s.case_system and s.charitylog_api_url:
        found.append(_url("CHARITYLOG_API_URL", s.charitylog_api_url, ("https", "http")))
    if "lamplight" in s.case_system and s.lamplight_api_url:
        found.append(_url("LAMPLIGHT_API_URL", s.lamplight_api_url, ("https", "http")))
    found += [
        None if _ADDRESS.match(a) else f"CASE_EMAIL_TO: {a!r} is not an email address"
        for a in s.case_email_to
    ]
    found.append(_range("FORWARD_BACKOFF", s.forward_backoff, 0))
    found += [_range("FORWARD_INTERVALS", v, 0) for v in s.forward_intervals]
    return found


def _twilio(s: Settings, process: str) -> list[str | None]:
    found: list[str | None] = []
    if not _ACCOUNT_SID.match(s.twilio_account_sid):
        found.append(
            f"TWILIO_ACCOUNT_SID must be AC and 32 hex digits, not {s.twilio_account_sid!r}"
        )
    if s.twilio_from_number and not _E164.match(s.twilio_from_number):
        found.append(
            f"TWILIO_FROM_NUMBER must be E.164 (+447700900001), not {s.twilio_from_number!r}"
        )
    found.append(_url("TWILIO_API_BASE_URL", s.twilio_api_base_url, ("https", "http")))
    ids = [key for key, _secret in s.twilio_webhook_shared_keys]
    for key, secret in s.twilio_webhook_shared_keys:
        if not _KEY_ID.match(key) or not secret:
            found.append(
                "TWILIO_WEBHOOK_SHARED_KEYS must be comma-separated key-id=secret pairs "
                f"(a pair for {key or 'a key'!r} is incomplete)"
            )
    if len(set(ids)) != len(ids):
        found.append("TWILIO_WEBHOOK_SHARED_KEYS names a key id twice")
    if s.public_base_url:
        found.append(_url("PUBLIC_BASE_URL", s.public_base_url, ("https", "http")))
        if urlsplit(s.public_base_url).query or urlsplit(s.public_base_url).fragment:
            found.append("PUBLIC_BASE_URL must be a base URL, without ?query or #fragment")
    signing = bool(s.twilio_auth_token or s.twilio_webhook_shared_keys)
    if process in ("web", "run") and signing and not s.public_base_url and not _loopback(s.host):
        found.append(
            f"PUBLIC_BASE_URL is not set and the web process listens on {s.host}: set it to the "
            "https address Twilio calls (signatures are never checked against the Host header)"
        )
    return found


def _voice(s: Settings) -> list[str | None]:
    from intake.hours import load_bank_holidays, parse_opening_hours
    from intake.transcription import ENGINES

    found: list[str | None] = []
    try:
        ZoneInfo(s.voice_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        found.append(f"VOICE_TIMEZONE {s.voice_timezone!r} is not a time zone (Europe/London)")
    try:
        parse_opening_hours(s.voice_opening_hours)
    except ValueError as exc:
        found.append(f"VOICE_OPENING_HOURS: {exc}")
    holidays = Path(s.voice_bank_holidays_file)
    if not holidays.is_file():
        found.append(f"VOICE_BANK_HOLIDAYS_FILE {str(holidays)!r} does not exist")
    try:
        load_bank_holidays(holidays)
    except (OSError, ValueError) as exc:
        found.append(f"VOICE_BANK_HOLIDAYS_FILE cannot be read: {type(exc).__name__}: {exc}")
    if s.voice_transcription not in ENGINES:
        known = ", ".join(sorted(ENGINES))
        found.append(f"VOICE_TRANSCRIPTION must be one of {known}, not {s.voice_transcription!r}")
    if s.voice_transcription == "command" and not s.voice_transcription_command:
        found.append("VOICE_TRANSCRIPTION is command but VOICE_TRANSCRIPTION_COMMAND is not set")
    if s.voice_menu and not _E164.match(s.voice_on_call_number):
        found.append("VOICE_MENU is on but VOICE_ON_CALL_NUMBER is not an E.164 number")
    found.append(_range("VOICE_MAX_RECORDING_SECONDS", s.voice_max_recording_seconds, 1, 3600))
    found.append(
        _range(
            "VOICE_MIN_RECORDING_SECONDS",
            s.voice_min_recording_seconds,
            0,
            s.voice_max_recording_seconds,
        )
    )
    found.append(_range("VOICE_TRANSCRIPT_TIMEOUT", s.voice_transcript_timeout, 1))
    return found


def _privacy(s: Settings) -> list[str | None]:
    """The retention schedule must read and make sense (`intake.privacy.retention.load`); the
    encryption and search keys must be usable, and set explicitly off SQLite."""
    from intake import encryption
    from intake.privacy.retention import load

    found: list[str | None] = []
    try:
        load(s)
    except ConfigError as exc:
        found.append(str(exc))
    return found + list(encryption.problems(s))


def problems(s: Settings, process: str = "any") -> list[str]:
    """Everything wrong with `s` for `process`, one line each (empty when all is well)."""
    found: list[str | None] = []
    if s.redis_url:
        found.append(_url("REDIS_URL", s.redis_url, ("redis", "rediss", "unix")))
    if s.database_url:
        scheme = s.database_url.split(":", 1)[0].split("+", 1)[0]
        if scheme not in ("sqlite", "postgres", "postgresql"):
            found.append(f"DATABASE_URL must be sqlite:/// or postgresql://, not {scheme}://")
    if s.smtp_relay_url:
        found.append(_url("SMTP_RELAY_URL", s.smtp_relay_url, ("smtp", "smtps", "smtp+starttls")))
    found += [
        _range(name, value, 1, 65535)
        for name, value in (("PORT", s.port), ("SMTP_PORT", s.smtp_port))
    ]
    found += [
        _range("SMTP_DATA_SIZE_LIMIT", s.smtp_data_size_limit, 1024),
        _range("OUTBOUND_TIMEOUT", s.outbound_timeout, 0.1, 600),
        _range("INBOUND_JOB_TIMEOUT", s.inbound_job_timeout, 10, 3600),
        _range("MAX_REQUEST_BODY", s.max_request_body, 0),
        _range("ACK_RATE_LIMIT", s.ack_rate_limit, 0),
        _range("ACK_RATE_WINDOW", s.ack_rate_window, 1),
        _range("ACK_SOURCE_LIMIT", s.ack_source_limit, 0),
        _range("ALERT_COALESCE_AFTER", s.alert_coalesce_after, 0),
        _range("ALERT_COALESCE_SECONDS", s.alert_coalesce_seconds, 0),
        _range("ALERT_SOURCE_LIMIT", s.alert_source_limit, 0),
        _range("ALERT_SOURCE_WINDOW", s.alert_source_window, 1),
        _range("FLOOD_THRESHOLD", s.flood_threshold, 0),
        _range("FLOOD_WINDOW", s.flood_window, 1),
        _range("LOGIN_MAX_FAILURES", s.login_max_failures, 0),
        _range("LOGIN_CLIENT_MAX_FAILURES", s.login_client_max_failures, 0),
        _range("LOGIN_LOCKOUT_MINUTES", s.login_lockout_minutes, 1),
        _range("LOGIN_HASH_CONCURRENCY", s.login_hash_concurrency, 1, 64),
        _range("LOGIN_HASH_QUEUE", s.login_hash_queue, 0),
        _range("SESSION_IDLE_MINUTES", s.session_idle_minutes, 0),
        _range("SLA_EMERGENCY_MINUTES", s.sla_emergency_minutes, 1),
        _range("SLA_URGENT_MINUTES", s.sla_urgent_minutes, 1),
        _range("SLA_ROUTINE_WORKING_DAYS", s.sla_routine_working_days, 1),
        _range("CONVERSATION_WINDOW_MINUTES", s.conversation_window_minutes, 0),
        _range("CONVERSATION_MAX_QUESTIONS", s.conversation_max_questions, 0),
        _range("MERGE_WINDOW_DAYS", s.merge_window_days, 0),
        # a tribunal window is 14 days: a floor reaching further would make every s2 urgent
        _range("DEADLINE_URGENT_DAYS", s.deadline_urgent_days, 0, 14),
    ]
    found += [
        None if _ip(host) else f"EMAIL_RELAY_HOSTS: {host!r} is not an IP address"
        for host in s.email_relay_hosts
    ]
    if s.email_authserv_id and not s.email_relay_hosts:
        found.append(
            "EMAIL_AUTHSERV_ID is set but EMAIL_RELAY_HOSTS is not: Authentication-Results are "
            "believed only from the relays named there"
        )
    found += [
        None if _ADDRESS.match(a) else f"INTAKE_EMAIL_ADDRESSES: {a!r} is not an email address"
        for a in s.email_addresses
    ]
    if (
        not _ADDRESS.match(parseaddr(s.email_from)[1])
        and parseaddr(s.email_from)[1] != "intake@localhost"
    ):
        found.append(f"INTAKE_EMAIL_FROM has no usable address: {s.email_from!r}")
    found += [_contact("ONCALL_DUTY_CONTACTS", c) for c in s.oncall_duty_contacts]
    if s.oncall_manager_contact:
        found.append(_contact("ONCALL_MANAGER_CONTACT", s.oncall_manager_contact))
    if not Path(s.templates_dir).is_dir():
        found.append(f"INTAKE_TEMPLATES_DIR {str(s.templates_dir)!r} is not a folder")
    else:
        found += _languages(s)
    try:
        precheck.load(s.eligibility_rules)
    except precheck.RulesError as exc:
        found.append(f"ELIGIBILITY_RULES: {exc}")
    found += _forwarding(s) + _twilio(s, process) + _voice(s) + _privacy(s)
    return [line for line in found if line]


def _languages(s: Settings) -> list[str]:
    """The language catalogue (templates/lang/languages.toml) and the Welsh setting."""
    found: list[str] = []
    try:
        known = languages.catalogue(Path(s.templates_dir))
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        return [f"INTAKE_TEMPLATES_DIR: {languages.CATALOGUE} cannot be read ({exc})"]
    if languages.ENGLISH not in known:
        found.append(f"INTAKE_TEMPLATES_DIR: {languages.CATALOGUE} has no English entry")
    welsh = known.get(languages.WELSH)
    if s.welsh_language_standards and (welsh is None or not welsh.templated):
        found.append(
            "WELSH_LANGUAGE_STANDARDS is on but INTAKE_TEMPLATES_DIR has no Welsh templates "
            "(templates/lang/cy/)"
        )
    return found


def require(s: Settings, process: str = "any") -> None:
    """Raise `ConfigError` with the first problem (one clear line), if there is one."""
    found = problems(s, process)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ConfigError(found[0] + more)
