"""Log-in, lock-out, CSRF and roles against the real app on a real socket."""

from __future__ import annotations

import httpx
import pytest

from intake.runtime import Runtime
from intake.store import Store
from intake.users import WeakPassword, add_user, authenticate, verify_password
from intake.web.auth import SESSION_COOKIE
from tests.web.dashboard.conftest import ADVOCATE, MANAGER, PASSWORD, csrf_from, log_in


def test_passwords_are_stored_as_argon2_hashes(runtime: Runtime, accounts: Store) -> None:
    user = accounts.users.get(ADVOCATE)
    assert user is not None
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert verify_password(user.password_hash, PASSWORD)
    assert not verify_password(user.password_hash, PASSWORD + "!")


def test_short_passwords_are_refused(runtime: Runtime) -> None:
    with pytest.raises(WeakPassword):
        add_user(runtime.store, "x@example.org", "short", "advocate")


def test_pages_need_a_login(live_url: str, http: httpx.Client) -> None:
    response = http.get(live_url + "/")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert (
        http.get(live_url + "/queue/rows", headers={"X-Requested-With": "fetch"}).status_code == 401
    )


def test_log_in_sets_a_safe_session_cookie_and_shows_the_queue(
    live_url: str, accounts: Store
) -> None:
    with httpx.Client(timeout=10) as client:
        response = log_in(client, live_url, ADVOCATE)
        assert response.status_code == 303
        [cookie] = [
            c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
        ]
        assert "httponly" in cookie.lower()
        assert "samesite=lax" in cookie.lower()
        page = client.get(live_url + "/")
        assert page.status_code == 200
        assert "Referral queue" in page.text
        assert ADVOCATE in page.text


def test_secure_flag_is_on_by_default(runtime: Runtime, accounts: Store) -> None:
    from intake.web.app import create_app
    from tests.support.servers import serve

    runtime.settings = runtime.settings.with_(session_cookie_secure=True)
    with serve(create_app(runtime)) as url, httpx.Client(timeout=10) as client:
        response = log_in(client, url, ADVOCATE)
        assert "secure" in response.headers["set-cookie"].lower()


def test_wrong_password_is_refused(live_url: str, accounts: Store) -> None:
    with httpx.Client(timeout=10) as client:
        response = log_in(client, live_url, ADVOCATE, "the wrong passphrase")
        assert response.status_code == 401
        assert "do not match" in response.text
        assert client.get(live_url + "/").status_code == 303


def test_unknown_account_gets_the_same_answer(live_url: str, accounts: Store) -> None:
    with httpx.Client(timeout=10) as client:
        response = log_in(client, live_url, "nobody@example.org")
        assert response.status_code == 401
        assert "do not match" in response.text


def test_repeated_failures_make_the_account_wait_not_lock(
    runtime: Runtime, live_url: str, accounts: Store
) -> None:
    limit = runtime.settings.login_max_failures
    with httpx.Client(timeout=10) as client:
        for _ in range(limit - 1):
            assert log_in(client, live_url, ADVOCATE, "wrong passphrase!").status_code == 401
        throttled = log_in(client, live_url, ADVOCATE, "wrong passphrase!")
        assert throttled.status_code == 429
        assert "try again in" in throttled.text and int(throttled.headers["retry-after"]) >= 1
        for _ in range(5):  # more guesses from elsewhere: the wait is half a minute now
            accounts.users.record_attempt(ADVOCATE, False, "192.0.2.9")
        # within the wait even the right password is not checked ...
        again = log_in(client, live_url, ADVOCATE)
        assert again.status_code == 429
        assert 20 < int(again.headers["retry-after"]) <= 32  # 2 ** (10 - 5) s after the last
    # ... and other accounts are not affected
    assert authenticate(runtime.settings, accounts, MANAGER, PASSWORD).ok
    actions = [e["action"] for e in runtime.store.audit_for()]
    assert actions.count("login.failed") == limit - 1
    assert "login.locked" in actions


def test_the_wait_doubles_with_each_failure_up_to_the_lockout_time(runtime: Runtime) -> None:
    from intake.users import delay_after

    settings = runtime.settings
    limit = settings.login_max_failures
    waits = [delay_after(settings, n) for n in range(limit - 1, limit + 14)]
    assert waits[:4] == [0, 1, 2, 4]
    assert waits[-1] == settings.login_lockout_minutes * 60  # capped: never a hard lock


def test_login_without_csrf_token_is_refused(live_url: str, accounts: Store) -> None:
    with httpx.Client(timeout=10) as client:
        client.get(live_url + "/login")
        response = client.post(live_url + "/login", data={"email": ADVOCATE, "password": PASSWORD})
        assert response.status_code == 403
        assert client.get(live_url + "/").status_code == 303


def test_action_with_a_wrong_csrf_token_is_refused(
    runtime: Runtime, live_url: str, advocate: httpx.Client, seed
) -> None:
    reference = seed("Please can someone help my mum with a complaint about her care home")
    response = advocate.post(
        f"{live_url}/referrals/{reference}/claim", data={"csrf_token": "forged"}
    )
    assert response.status_code == 403
    missing = advocate.post(f"{live_url}/referrals/{reference}/claim", data={})
    assert missing.status_code == 403
    assert "referral.claimed" not in [e["action"] for e in runtime.store.audit_for()]


def test_a_token_from_another_session_is_refused(
    live_url: str, advocate: httpx.Client, accounts: Store, seed
) -> None:
    reference = seed("I would like an advocate for my care act assessment next week")
    with httpx.Client(timeout=10) as other:
        log_in(other, live_url, MANAGER)
        foreign = csrf_from(other.get(live_url + "/").text)
    response = advocate.post(
        f"{live_url}/referrals/{reference}/claim", data={"csrf_token": foreign}
    )
    assert response.status_code == 403


def test_advocates_cannot_see_the_audit_trail(
    live_url: str, advocate: httpx.Client, manager: httpx.Client
) -> None:
    assert advocate.get(live_url + "/audit").status_code == 403
    assert advocate.get(live_url + "/audit.csv").status_code == 403
    assert manager.get(live_url + "/audit").status_code == 200
    assert manager.get(live_url + "/audit.csv").status_code == 200


def test_logout_ends_the_session(live_url: str, advocate: httpx.Client) -> None:
    token = csrf_from(advocate.get(live_url + "/").text)
    response = advocate.post(live_url + "/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert advocate.get(live_url + "/").status_code == 303


def test_log_in_redirects_only_within_the_site(live_url: str, accounts: Store) -> None:
    with httpx.Client(timeout=10) as client:
        token = csrf_from(client.get(live_url + "/login").text)
        response = client.post(
            live_url + "/login",
            data={
                "email": ADVOCATE,
                "password": PASSWORD,
                "csrf_token": token,
                "next": "//evil.example/",
            },
        )
        assert response.headers["location"] == "/"
