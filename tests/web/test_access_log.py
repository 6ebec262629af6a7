"""Requests are logged without their query strings (searches carry names and numbers)."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.conftest import API_TOKEN


def test_access_log_has_no_query_string(
    live_url: str, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="intake.access"):
        http.get(
            live_url + "/api/referrals?channel=sms&q=Margaret+Hill+07700900123",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "intake.access"]
    assert any('"GET /api/referrals" 200' in line for line in lines)
    assert not any("Margaret" in line or "07700900123" in line for line in lines)
