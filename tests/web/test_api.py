"""The JSON API and health endpoint over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from intake import pipeline
from intake.models import InboundMessage
from intake.runtime import Runtime
from tests.conftest import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {API_TOKEN}"}],
    ids=["none", "wrong-token", "wrong-scheme"],
)
def test_api_needs_the_bearer_token(
    live_url: str, http: httpx.Client, headers: dict[str, str]
) -> None:
    for path in ("/api/referrals", "/api/referrals/REF-ABCDEF"):
        response = http.get(live_url + path, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_no_api_response_may_be_cached(runtime: Runtime, live_url: str, http: httpx.Client) -> None:
    """Referrals must not linger in a browser's or a proxy's cache (issue 15): every /api/
    answer, a refusal or a 404 included, says no-store."""
    message = InboundMessage("sms", "SM2", "+447700900123", "+447700900001", "hello")
    reference = pipeline.receive(runtime, "sms", message.to_payload()).reference
    answers = [
        http.get(live_url + "/api/referrals", headers=AUTH),
        http.get(live_url + f"/api/referrals/{reference}", headers=AUTH),
        http.get(live_url + "/api/referrals/REF-ABCDEF", headers=AUTH),
        http.get(live_url + "/api/referrals"),
        http.get(live_url + "/api/failed", headers=AUTH),
    ]
    assert [r.status_code for r in answers] == [200, 200, 404, 401, 200]
    for response in answers:
        assert response.headers.get_list("cache-control") == ["no-store"]
    assert "no-store" not in http.get(live_url + "/healthz").headers.get("cache-control", "")


def test_unknown_reference_is_404(live_url: str, http: httpx.Client) -> None:
    assert http.get(live_url + "/api/referrals/REF-ABCDEF", headers=AUTH).status_code == 404


def test_views_are_audited(runtime: Runtime, live_url: str, http: httpx.Client) -> None:
    message = InboundMessage("sms", "SM1", "+447700900123", "+447700900001", "hello")
    pipeline.receive(runtime, "sms", message.to_payload())
    referral = runtime.store.find_referral_for_message("sms", "SM1")
    assert referral is not None
    assert (
        http.get(live_url + f"/api/referrals/{referral.reference}", headers=AUTH).status_code == 200
    )
    actions = [(a["actor"], a["action"]) for a in runtime.store.audit_for(referral.id)]
    assert ("api", "referral.viewed") in actions


def test_bad_query_values_are_refused_or_clamped(live_url: str, http: httpx.Client) -> None:
    assert http.get(live_url + "/api/referrals?urgency=whenever", headers=AUTH).status_code == 400
    response = http.get(live_url + "/api/referrals?limit=100000&offset=-4", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["limit"] == 200
    assert response.json()["offset"] == 0


def test_healthz_reports_redis_and_database(live_url: str, http: httpx.Client) -> None:
    response = http.get(live_url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "redis": "ok", "database": "ok"}


def test_healthz_degraded_when_redis_is_down(runtime: Runtime, http: httpx.Client) -> None:
    from intake.queue import connect
    from intake.web.app import create_app
    from tests.support.servers import free_port, serve

    runtime.redis = connect(f"redis://127.0.0.1:{free_port()}/0")
    with serve(create_app(runtime)) as url:
        response = http.get(url + "/healthz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("unreachable")
    assert response.json()["database"] == "ok"


def test_api_pages_by_cursor(runtime: Runtime, live_url: str, http: httpx.Client) -> None:
    """`next` leads through every referral once (issue 20); a forged cursor is a 400."""
    for i in range(5):
        message = InboundMessage("sms", f"SMK{i}", f"+4477009001{i:02d}", "+447700900001", "hi")
        pipeline.receive(runtime, "sms", message.to_payload())
    seen: list[str] = []
    url = live_url + "/api/referrals?limit=2"
    while True:
        body = http.get(url, headers=AUTH).json()
        seen += [r["reference"] for r in body["referrals"]]
        if body["next"] is None:
            break
        url = live_url + f"/api/referrals?limit=2&after={body['next']}"
    everything = http.get(live_url + "/api/referrals?limit=50", headers=AUTH).json()
    assert seen == [r["reference"] for r in everything["referrals"]]
    assert len(set(seen)) == 5
    assert http.get(live_url + "/api/referrals?after=1.2.3.4", headers=AUTH).status_code == 400
