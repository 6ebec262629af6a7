"""A setting that cannot work stops every process at start, with one clear line (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from intake.config import ConfigError, load_settings
from intake.settings_check import problems, require

WRONG = [
    ({"CASE_SYSTEM": "store,nosuch"}, "unknown CASE_SYSTEM forwarder 'nosuch'"),
    ({"CASE_SYSTEM": "webhook", "CASE_WEBHOOK_SECRET": "s"}, "CASE_WEBHOOK_URL is not set"),
    ({"CASE_SYSTEM": "webhook", "CASE_WEBHOOK_URL": "https://c.example"}, "CASE_WEBHOOK_SECRET"),
    ({"CASE_SYSTEM": "fhir"}, "FHIR_BASE_URL is not set"),
    ({"CASE_SYSTEM": "email", "CASE_EMAIL_TO": "team@example.org"}, "SMTP_RELAY_URL is not set"),
    (
        {"CASE_WEBHOOK_URL": "c.example/in", "CASE_SYSTEM": "webhook", "CASE_WEBHOOK_SECRET": "s"},
        "CASE_WEBHOOK_URL must start with",
    ),
    ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
    ({"DATABASE_URL": "mysql://db/intake"}, "DATABASE_URL must be"),
    ({"SMTP_RELAY_URL": "relay.example.org:25"}, "SMTP_RELAY_URL"),
    ({"PUBLIC_BASE_URL": "https://intake.example.org/?x=1"}, "without ?query"),
    ({"PORT": "70000"}, "PORT must be between 1 and 65535"),
    ({"SMTP_PORT": "0"}, "SMTP_PORT"),
    ({"OUTBOUND_TIMEOUT": "0"}, "OUTBOUND_TIMEOUT"),
    ({"INBOUND_JOB_TIMEOUT": "1"}, "INBOUND_JOB_TIMEOUT"),
    ({"ACK_RATE_WINDOW": "0"}, "ACK_RATE_WINDOW"),
    ({"VOICE_TIMEZONE": "Europe/Londn"}, "not a time zone"),
    ({"VOICE_OPENING_HOURS": "weekdays 9 till 5"}, "VOICE_OPENING_HOURS"),
    ({"VOICE_BANK_HOLIDAYS_FILE": "/nonexistent/holidays.json"}, "VOICE_BANK_HOLIDAYS_FILE"),
    ({"VOICE_TRANSCRIPTION": "whisper"}, "VOICE_TRANSCRIPTION must be one of"),
    ({"VOICE_TRANSCRIPTION": "command"}, "VOICE_TRANSCRIPTION_COMMAND is not set"),
    ({"VOICE_MENU": "on"}, "VOICE_ON_CALL_NUMBER"),
    ({"VOICE_MIN_RECORDING_SECONDS": "200"}, "VOICE_MIN_RECORDING_SECONDS"),
    ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_ACCOUNT_SID"),
    ({"TWILIO_FROM_NUMBER": "07700 900001"}, "TWILIO_FROM_NUMBER must be E.164"),
    ({"TWILIO_WEBHOOK_SHARED_KEYS": "k1=a,k2"}, "TWILIO_WEBHOOK_SHARED_KEYS"),
    ({"TWILIO_WEBHOOK_SHARED_KEYS": "k1=a,k1=b"}, "names a key id twice"),
    ({"INTAKE_EMAIL_ADDRESSES": "referrals"}, "INTAKE_EMAIL_ADDRESSES"),
    ({"ONCALL_DUTY_CONTACTS": "+447700900001,duty"}, "ONCALL_DUTY_CONTACTS: 'duty'"),
    ({"ONCALL_MANAGER_CONTACT": "manager"}, "ONCALL_MANAGER_CONTACT"),
    ({"INTAKE_TEMPLATES_DIR": "/nonexistent"}, "INTAKE_TEMPLATES_DIR"),
]


@pytest.mark.parametrize(("environ", "said"), WRONG, ids=[str(e) for e, _ in WRONG])
def test_a_setting_that_cannot_work_is_named(environ: dict[str, str], said: str) -> None:
    found = problems(load_settings(environ), "worker")
    assert any(said in line for line in found), found
    with pytest.raises(ConfigError):
        require(load_settings(environ), "worker")


def test_numbers_that_are_not_numbers_are_named() -> None:
    with pytest.raises(ConfigError, match="FORWARD_ATTEMPTS must be a whole number"):
        load_settings({"FORWARD_ATTEMPTS": "six"})
    with pytest.raises(ConfigError, match="ACK_RATE_WINDOW must be a number"):
        load_settings({"ACK_RATE_WINDOW": "an hour"})


def test_the_defaults_start() -> None:
    assert problems(load_settings({}), "run") == []


def test_the_signature_url_is_never_the_host_header() -> None:
    """Signing configured, listening beyond loopback, no PUBLIC_BASE_URL: the web process
    refuses to start (a loopback address, a developer's machine, may)."""
    exposed = load_settings({"TWILIO_AUTH_TOKEN": "t", "HOST": "0.0.0.0"})
    assert any("PUBLIC_BASE_URL is not set" in p for p in problems(exposed, "web"))
    assert problems(exposed, "worker") == []
    local = load_settings({"TWILIO_AUTH_TOKEN": "t", "HOST": "127.0.0.1"})
    assert problems(local, "web") == []
    public = load_settings(
        {"TWILIO_AUTH_TOKEN": "t", "HOST": "0.0.0.0", "PUBLIC_BASE_URL": "https://i.example.org"}
    )
    assert problems(public, "web") == []


@pytest.mark.parametrize("process", ["web", "smtp", "worker", "sla-check", "run"])
def test_each_process_refuses_to_start_with_one_line(process: str, tmp_path: Path) -> None:
    env = {**os.environ, "CASE_SYSTEM": "store,nosuch", "DATA_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "intake.cli", process],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        "intake: configuration error: unknown CASE_SYSTEM forwarder 'nosuch' "
        "(known: store, webhook, fhir, email, charitylog, lamplight)"
    ]
