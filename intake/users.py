"""Staff accounts: Argon2 password hashes, log-in throttling, and revocable sessions.

Argon2id (argon2-cffi's defaults: 64 MiB, 3 passes) is memory-hard, so a stolen table is slow to
crack; the web process bounds how many hashes run at once (`intake.web.auth.HashGate`). Unknown
emails are hashed against a dummy too, so timing does not tell an attacker which accounts exist.

**Throttling, not a hard lock** (counted in the attempts table, so it holds across web
processes), after OWASP's "Slow Down Online Guessing Attacks with Device Cookies":

- per client address: after `login_client_max_failures` failures on any accounts within
  `login_lockout_minutes`, that address is refused until the oldest of them is out of the window;
- per account, for browsers that never logged in to it: after `login_max_failures` failures, each
  further attempt must wait a delay that doubles with every failure (1 s, 2 s, 4 s ...) up to
  `login_lockout_minutes`; an attempt made too soon is refused without checking the password and
  is not counted, so guessing is slowed to a crawl;
- a browser that logged in to the account before carries a device token (a signed cookie, made
  in `intake.web.auth`) and is held only to its own failures: whoever hammers the account from
  elsewhere cannot lock its owner out.

**Sessions** are rows (`store.sessions`): a log-in starts one, and it ends on log-out, after
`session_idle_minutes` without a request, `SESSION_HOURS` after it began, when the password
changes (`change_password`, or `set_password_hash` anywhere) and when the account is disabled
(`end_sessions`; the check also refuses a disabled account or a session older than the last
password change, whoever forgot to end it).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from intake.config import Settings
from intake.models import utcnow
from intake.store import ROLES, Store, User

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password")
MIN_PASSWORD_LENGTH = 12
SESSION_HOURS = 12  # one working day and a bit: log in again each shift
TOUCH_EVERY = timedelta(minutes=1)  # how often a request records that a session is in use
SESSIONS_KEPT = timedelta(days=30)  # ended or expired sessions are deleted after this


class WeakPassword(ValueError):
    """The password is too short to be allowed."""


@dataclass(frozen=True)
class LoginResult:
    """`user` when the log-in succeeded; else `wait` seconds before another attempt may be
    made (0: it may be tried again at once) and `why` ("throttled" per account or device,
    "client" per address, or "" for a wrong password)."""

    user: User | None
    wait: float = 0.0
    why: str = ""

    @property
    def ok(self) -> bool:
        return self.user is not None

    @property
    def locked(self) -> bool:
        return self.wait > 0


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def add_user(store: Store, email: str, password: str, role: str) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email:
        raise ValueError("an email address is needed")
    return store.users.add(email, hash_password(password), role)


def _window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_lockout_minutes)


def delay_after(settings: Settings, failures: int) -> float:
    """Seconds an attempt must wait after the last of `failures` failures (0 below the limit):
    1 s at the limit, doubling, at most `login_lockout_minutes`."""
    over = failures - settings.login_max_failures
    if settings.login_max_failures <= 0 or over < 0:
        return 0.0
    return float(min(2 ** min(over, 30), _window(settings).total_seconds()))


def wait_before_attempt(
    settings: Settings, store: Store, email: str, client: str = "", device: str | None = None
) -> tuple[float, str]:
    """(seconds to wait, why) before this client may try this account again; (0, "") now."""
    now = utcnow()
    since = now - _window(settings)
    if client and settings.login_client_max_failures > 0:
        failed = store.users.client_failures(client, since)
        if len(failed) >= settings.login_client_max_failures:
            oldest = failed[-settings.login_client_max_failures]
            return _seconds_until(oldest + _window(settings), now), "client"
    failures = store.users.recent_failures(email, since, device=device)
    delay = delay_after(settings, len(failures))
    if delay and failures:
        left = _seconds_until(failures[0] + timedelta(seconds=delay), now)
        if left > 0:
            return left, "throttled"
    return 0.0, ""


def _seconds_until(when: datetime, now: datetime) -> float:
    return max(0.0, (when - now).total_seconds())


def is_locked(settings: Settings, store: Store, email: str) -> bool:
    """Whether a browser without this account's device token must wait before trying it."""
    return wait_before_attempt(settings, store, email)[0] > 0


def authenticate(
    settings: Settings,
    store: Store,
    email: str,
    password: str,
    client: str = "",
    device: str | None = None,
) -> LoginResult:
    """Check a log-in and record the attempt; refuse throttled, unknown or inactive accounts.

    `device` is the browser's device token for this account (the web layer checked its
    signature), or None. An attempt that must wait is refused before any password is hashed and
    is not recorded (it would only make the wait longer).
    """
    email = email.strip().lower()
    wait, why = wait_before_attempt(settings, store, email, client, device)
    if wait > 0:
        return LoginResult(None, wait=wait, why=why)
    user = store.users.get(email)
    good = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not user.active or not good:
        store.users.record_attempt(email, False, client, device)
        wait, why = wait_before_attempt(settings, store, email, client, device)
        return LoginResult(None, wait=wait, why=why)
    store.users.record_attempt(email, True, client, device)
    if _hasher.check_needs_rehash(user.password_hash):
        store.users.set_password_hash(email, _hasher.hash(password), changed=False)
    return LoginResult(user)


# -- sessions -----------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    """What the store keeps of a session token (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(store: Store, user: User, client: str = "") -> str:
    """A new session for `user`; its token, for the cookie (never stored as it is)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(hours=SESSION_HOURS)
    store.sessions.start(token_hash(token), user.email, client, expires)
    store.sessions.purge(now - SESSIONS_KEPT)  # long over: nothing left to revoke
    return token


def session_user(settings: Settings, store: Store, token: str) -> User | None:
    """The account a session token belongs to, if the session is still good; else None.

    Good means: not ended, not past `SESSION_HOURS`, used within `session_idle_minutes`, the
    account active, and its password unchanged since the session began. A session found bad
    is ended then and there (with why), so it stays ended.
    """
    if not token:
        return None
    digest = token_hash(token)
    found = store.sessions.get(digest)
    if found is None or found.ended_at is not None:
        return None
    now = utcnow()
    idle = timedelta(minutes=settings.session_idle_minutes)
    why = ""
    if found.expires_at <= now:
        why = "expired"
    elif settings.session_idle_minutes > 0 and found.last_seen_at + idle <= now:
        why = "idle"
    elif not found.user_active:
        why = "account disabled"
    elif found.password_changed_at is not None and found.password_changed_at > found.created_at:
        why = "password changed"
    if why:
        store.sessions.end(digest, why)
        return None
    user = store.users.get(found.email)
    if user is None or not user.active:
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        store.sessions.touch(digest, now)
    return user


def end_session(store: Store, token: str, reason: str = "logged out") -> bool:
    """End one session (log-out); False when it had ended already."""
    return bool(token) and store.sessions.end(token_hash(token), reason)


def end_sessions(store: Store, email: str, reason: str = "ended by an administrator") -> int:
    """End every session of an account, wherever its cookies went (disable, password reset);
    how many were live. Call it whenever an account is disabled or its password replaced."""
    ended = store.sessions.end_all(email, reason)
    if ended:
        log.info("ended %d dashboard session(s) of an account: %s", ended, reason)
    return ended


def change_password(store: Store, email: str, password: str) -> int:
    """Set a new password (at least `MIN_PASSWORD_LENGTH` characters) and end every session of
    the account; how many sessions were ended. Raises `WeakPassword`, `LookupError`."""
    if store.users.get(email) is None:
        raise LookupError("no such account")
    store.users.set_password_hash(email, hash_password(password), changed=True)
    return end_sessions(store, email, "password changed")


def read_password(password_stdin: bool) -> str:
    """The new password: one line from stdin (for scripts), else asked twice without echo."""
    import getpass
    import sys

    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise ValueError("the passwords did not match")
    return first
