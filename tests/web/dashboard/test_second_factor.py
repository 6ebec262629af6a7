"""Two-step log-in (TOTP, RFC 6238) through the real app: set-up, log-in with a code, a code used
once, recovery codes, lock-out after wrong codes; WCAG 3.3.8: the fields accept pasted codes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pyotp
import pytest

from intake.config import Settings
from intake.store import Store
from tests.web.dashboard.conftest import MANAGER, PASSWORD, csrf_from, log_in

SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(require_totp=True, login_max_failures=3)


def set_up(client: httpx.Client, base: str) -> tuple[str, list[str]]:
    page = client.get(base + "/account/totp").text
    secret = SECRET.search(page)
    assert secret, "no key on the set-up page"
    token = csrf_from(page)
    wrong = client.post(base + "/account/totp", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 400 and "not right" in wrong.text
    code = pyotp.TOTP(secret.group(1)).now()
    done = client.post(base + "/account/totp", data={"csrf_token": token, "code": code})
    assert done.status_code == 200 and "Two-step log-in is on" in done.text
    return secret.group(1), re.findall(r"<li><code>([0-9a-f-]+)</code></li>", done.text)


def send_code(client: httpx.Client, base: str, code: str) -> httpx.Response:
    token = csrf_from(client.get(base + "/login/code").text)
    return client.post(base + "/login/code", data={"csrf_token": token, "code": code})


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def test_set_up_then_log_in_with_a_code_once_and_recover(
    live_url: str, accounts: Store, client: httpx.Client
) -> None:
    assert log_in(client, live_url, MANAGER).status_code == 303
    # no factor yet: every page leads to setting one up
    first = client.get(live_url + "/")
    assert first.status_code == 303 and first.headers["location"] == "/account/totp"
    assert client.get(live_url + "/privacy").headers["location"] == "/account/totp"
    secret, codes = set_up(client, live_url)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(live_url + "/").status_code == 200
    client.cookies.clear()

    # the password alone is not a log-in any more
    answer = log_in(client, live_url, MANAGER)
    assert answer.status_code == 303 and answer.headers["location"] == "/login/code"
    assert client.get(live_url + "/").status_code == 303  # not signed in yet
    assert send_code(client, live_url, "123456").status_code == 401
    # the set-up used this step's code; the next step's is accepted (one step of clock drift)
    code = pyotp.TOTP(secret).at(time.time() + 30)
    done = send_code(client, live_url, f" {code} ")  # pasted, with spaces
    assert done.status_code == 303 and client.get(live_url + "/").status_code == 200
    client.cookies.clear()

    # the same code again is refused (used once), a recovery code works once
    log_in(client, live_url, MANAGER)
    assert send_code(client, live_url, code).status_code == 401
    assert send_code(client, live_url, codes[0].upper()).status_code == 303
    client.cookies.clear()
    log_in(client, live_url, MANAGER)
    assert send_code(client, live_url, codes[0]).status_code in (401, 429)
    actions = [e["action"] for e in accounts.audit_for()]
    assert "user.totp_enabled" in actions and "user.recovery_code_used" in actions
    assert "login.code_failed" in actions


def test_wrong_codes_lock_the_account_like_wrong_passwords(
    live_url: str, accounts: Store, client: httpx.Client
) -> None:
    assert log_in(client, live_url, MANAGER).status_code == 303
    secret, _ = set_up(client, live_url)
    client.cookies.clear()
    log_in(client, live_url, MANAGER)
    statuses = []
    while 429 not in statuses and len(statuses) < 6:
        statuses.append(send_code(client, live_url, "000000").status_code)
    # LOGIN_MAX_FAILURES=3: the third wrong code starts the wait, as a third wrong password would
    assert statuses == [401, 401, 429]
    # the right code cannot be tried while the account waits
    with httpx.Client(timeout=10) as other:
        answer = log_in(other, live_url, MANAGER)
        if answer.status_code == 303 and answer.headers["location"] == "/login/code":
            locked = send_code(other, live_url, pyotp.TOTP(secret).at(time.time() + 30))
            assert locked.status_code == 429
        else:
            assert answer.status_code == 429


def test_an_admin_resets_a_lost_factor(
    live_url: str, accounts: Store, client: httpx.Client
) -> None:
    from intake import users

    assert log_in(client, live_url, MANAGER).status_code == 303
    set_up(client, live_url)
    users.reset_totp(accounts, None, "cli:root", MANAGER)
    assert client.get(live_url + "/").status_code == 303  # sessions ended
    client.cookies.clear()
    assert log_in(client, live_url, MANAGER).headers["location"] != "/login/code"
    assert client.get(live_url + "/").headers["location"] == "/account/totp"
    assert accounts.users.get(MANAGER).totp is False  # type: ignore[union-attr]
    assert PASSWORD
