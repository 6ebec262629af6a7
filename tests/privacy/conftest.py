"""Shared fixtures for the data-protection tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

import channels
from intake.config import Settings
from intake.runtime import Runtime


@pytest.fixture
def rt(settings: Settings, database_url: str) -> Iterator[Runtime]:
    """A runtime on a fresh schema of the parametrised database (SQLite or PostgreSQL)."""
    runtime = Runtime.build(replace(settings, database_url=database_url), channels.registry())
    runtime.store.upgrade()
    yield runtime
    runtime.store.drop_schema()
    runtime.close()
