"""Sessions are server-side and revocable (issue 15, security 5).

The attack: copy a logged-in browser's cookie into another client. It must stop working when the
owner logs out, when the password changes, when the account is disabled, when the session has been
idle too long, and it must never renew itself past any of those.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import sqlalchemy as sa

from intake import users
from intake.models import utcnow
from intake.runtime import Runtime
from intake.store import Store
from intake.store.schema import sessions
from intake.store.schema import users as users_table
from intake.web.auth import SESSION_COOKIE
from tests.web.dashboard.conftest import ADVOCATE, csrf_from, log_in


def copied(base: str, original: httpx.Client) -> httpx.Client:
    """A second client holding only a copy of `original`'s session cookie (the attacker)."""
    thief = httpx.Client(timeout=10)
    thief.cookies.set(SESSION_COOKIE, original.cookies[SESSION_COOKIE])
    assert thief.get(base + "/").status_code == 200  # the copy works while the session lives
    return thief


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(timeout=10)
    assert log_in(client, base, ADVOCATE).status_code == 303
    return client


def test_a_copied_cookie_stops_working_after_logout(live_url: str, accounts: Store) -> None:
    owner = signed_in(live_url)
    thief = copied(live_url, owner)
    kept = owner.cookies[SESSION_COOKIE]
    token = csrf_from(owner.get(live_url + "/").text)
    assert owner.post(live_url + "/logout", data={"csrf_token": token}).status_code == 303
    assert owner.get(live_url + "/").status_code == 303
    assert thief.get(live_url + "/").status_code == 303  # redirected to log in
    # the cookie as it was before log-out, replayed as is, is dead too
    with httpx.Client(timeout=10) as replay:
        replay.cookies.set(SESSION_COOKIE, kept)
        assert replay.get(live_url + "/").status_code == 303
    [row] = _session_rows(accounts)
    assert row["ended_reason"] == "logged out"
    owner.close()
    thief.close()


def test_a_copied_cookie_stops_working_after_a_password_change(
    live_url: str, accounts: Store
) -> None:
    owner = signed_in(live_url)
    thief = copied(live_url, owner)
    assert users.change_password(accounts, ADVOCATE, "a brand new long passphrase") == 1
    assert thief.get(live_url + "/").status_code == 303
    assert owner.get(live_url + "/").status_code == 303
    fresh = httpx.Client(timeout=10)
    assert log_in(fresh, live_url, ADVOCATE, "a brand new long passphrase").status_code == 303
    assert fresh.get(live_url + "/").status_code == 200  # a new session after the change works
    for client in (owner, thief, fresh):
        client.close()


def test_a_password_set_without_ending_sessions_still_ends_them(
    live_url: str, accounts: Store
) -> None:
    """Whoever changes a password and forgets `end_sessions`: the check refuses sessions that
    began before the change anyway."""
    owner = signed_in(live_url)
    thief = copied(live_url, owner)
    accounts.users.set_password_hash(ADVOCATE, users.hash_password("another long passphrase"))
    assert thief.get(live_url + "/").status_code == 303
    owner.close()
    thief.close()


def test_a_rehash_of_the_same_password_keeps_sessions(live_url: str, accounts: Store) -> None:
    owner = signed_in(live_url)
    user = accounts.users.get(ADVOCATE)
    assert user is not None
    accounts.users.set_password_hash(ADVOCATE, user.password_hash, changed=False)
    assert owner.get(live_url + "/").status_code == 200
    owner.close()


def test_a_copied_cookie_stops_working_when_the_account_is_disabled(
    runtime: Runtime, live_url: str, accounts: Store
) -> None:
    owner = signed_in(live_url)
    thief = copied(live_url, owner)
    with accounts.engine.begin() as conn:  # disabling itself is the account administration's
        conn.execute(
            users_table.update().where(users_table.c.email == ADVOCATE).values(active=False)
        )
    assert thief.get(live_url + "/").status_code == 303  # refused even before end_sessions
    assert users.end_sessions(accounts, ADVOCATE) == 0  # the check had ended it already
    with accounts.engine.begin() as conn:
        conn.execute(
            users_table.update().where(users_table.c.email == ADVOCATE).values(active=True)
        )
    assert thief.get(live_url + "/").status_code == 303  # re-enabling does not revive it
    owner.close()
    thief.close()


def test_end_sessions_ends_every_browser_of_the_account(live_url: str, accounts: Store) -> None:
    first, second = signed_in(live_url), signed_in(live_url)
    assert users.end_sessions(accounts, ADVOCATE, "disabled") == 2
    assert first.get(live_url + "/").status_code == 303
    assert second.get(live_url + "/").status_code == 303
    assert {r["ended_reason"] for r in _session_rows(accounts)} == {"disabled"}
    first.close()
    second.close()


def test_an_idle_or_old_session_ends_and_requests_do_not_extend_it(
    runtime: Runtime, live_url: str, accounts: Store
) -> None:
    owner = signed_in(live_url)
    thief = copied(live_url, owner)
    idle = timedelta(minutes=runtime.settings.session_idle_minutes + 1)
    with accounts.engine.begin() as conn:
        conn.execute(sessions.update().values(last_seen_at=utcnow() - idle))
    assert thief.get(live_url + "/").status_code == 303
    assert owner.get(live_url + "/").status_code == 303
    [row] = _session_rows(accounts)
    assert row["ended_reason"] == "idle"

    again = signed_in(live_url)
    for _ in range(3):  # busy use renews the cookie, never the session's end
        assert again.get(live_url + "/").status_code == 200
    with accounts.engine.begin() as conn:
        conn.execute(
            sessions.update()
            .where(sessions.c.ended_at.is_(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert again.get(live_url + "/").status_code == 303
    for client in (owner, thief, again):
        client.close()


def test_the_store_never_holds_a_usable_session_token(live_url: str, accounts: Store) -> None:
    owner = signed_in(live_url)
    [row] = _session_rows(accounts)
    cookie = owner.cookies[SESSION_COOKIE]
    assert row["token_hash"] not in cookie and len(row["token_hash"]) == 64
    owner.close()


def _session_rows(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(sessions).order_by(sessions.c.id))]
