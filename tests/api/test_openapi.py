"""The OpenAPI description matches the live app: schemathesis generates requests from it, sends
them to the real app on a loopback socket and checks every answer against the description."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from intake.models import InboundMessage, Referral
from intake.reference import new_reference
from intake.runtime import Runtime
from intake.web.app import create_app
from intake.web.openapi import spec
from tests.conftest import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def _openapi_path(path: str) -> str:
    return path  # Starlette's `{name}` placeholders are OpenAPI's too


def test_every_api_route_of_the_app_is_described(runtime: Runtime) -> None:
    app = create_app(runtime)
    served = {
        (_openapi_path(route.path), method.lower())
        for route in app.routes
        if isinstance(route, Route) and (route.path.startswith("/api/") or route.path == "/healthz")
        for method in (route.methods or ()) - {"HEAD"}
    }
    described = {(path, method) for path, ops in spec()["paths"].items() for method in ops}
    assert served, "the app serves no JSON API routes"
    assert served <= described, f"routes missing from openapi.json: {sorted(served - described)}"
    assert described <= served, f"described but not served: {sorted(described - served)}"


def test_the_description_is_served(live_url: str, http: httpx.Client) -> None:
    response = http.get(live_url + "/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")
    assert "/api/referrals/{reference}" in response.json()["paths"]


@pytest.mark.slow
def test_schemathesis_against_the_live_app(
    live_url: str, http: httpx.Client, runtime: Runtime
) -> None:
    seeded = _seed_referral(runtime)
    schema = schemathesis.openapi.from_url(live_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {op.path for op in operations}
    assert paths >= {"/healthz", "/api/referrals", "/api/referrals/{reference}"}
    checked: list[tuple[str, int]] = []

    strategies = [(op, op.as_strategy()) for op in operations]
    detail = schema["/api/referrals/{reference}"]["GET"]
    strategies.append((detail, detail.as_strategy(path_parameters={"reference": seeded})))
    for operation, strategy in strategies:
        _exercise(live_url, operation.path, strategy, checked)

    assert ("/api/referrals/{reference}", 200) in checked  # the seeded referral, validated
    assert ("/api/referrals/{reference}", 404) in checked
    assert ("/api/referrals", 200) in checked and ("/api/referrals", 401) in checked


def _exercise(base_url: str, path: str, strategy: Any, checked: list[tuple[str, int]]) -> None:
    """Send a bounded number of generated requests for one operation and validate each answer."""

    @settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=strategy, authorised=st.booleans())
    def run(case: Any, authorised: bool) -> None:
        response = case.call_and_validate(base_url=base_url, headers=AUTH if authorised else {})
        checked.append((path, response.status_code))
        if path.startswith("/api/") and not authorised:
            assert response.status_code == 401

    run()


def _seed_referral(runtime: Runtime) -> str:
    """One stored referral, so the detail route's full answer is checked too."""
    received = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    message = InboundMessage(
        channel="sms",
        provider_id="SM" + "5" * 32,
        sender="+447700900555",
        recipient="+447700900001",
        body="My mum is in a care home in Leeds and needs an advocate for her review next week",
        received_at=received,
    )
    referral = Referral(
        reference=new_reference(),
        channel="sms",
        sender=message.sender,
        received_at=received,
        raw_text=message.body,
    )
    return runtime.store.create_referral(referral, message).reference
