"""Staff accounts: Argon2 password hashes and log-in with lock-out.

Argon2id (argon2-cffi's defaults) is memory-hard, so a stolen table is slow to crack. Lock-out is
counted per account from the attempts table, not per process, so it holds across web workers:
after `login_max_failures` failures within `login_lockout_minutes`, the account refuses even the
right password until the window has passed. Unknown emails are hashed against a dummy too, so
timing does not tell an attacker which accounts exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from intake.config import Settings
from intake.models import utcnow
from intake.store import ROLES, Store, User

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password")
MIN_PASSWORD_LENGTH = 12


class WeakPassword(ValueError):
    """The password is too short to be allowed."""


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    locked: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None


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


def is_locked(settings: Settings, store: Store, email: str) -> bool:
    window = utcnow() - timedelta(minutes=settings.login_lockout_minutes)
    return len(store.users.recent_failures(email, window)) >= settings.login_max_failures


def authenticate(
    settings: Settings, store: Store, email: str, password: str, client: str = ""
) -> LoginResult:
    """Check a log-in, record the attempt, and refuse locked or inactive accounts."""
    email = email.strip().lower()
    if is_locked(settings, store, email):
        store.users.record_attempt(email, False, client)
        return LoginResult(None, locked=True)
    user = store.users.get(email)
    good = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not user.active or not good:
        store.users.record_attempt(email, False, client)
        return LoginResult(None, locked=is_locked(settings, store, email))
    store.users.record_attempt(email, True, client)
    if _hasher.check_needs_rehash(user.password_hash):
        store.users.set_password_hash(email, _hasher.hash(password))
    return LoginResult(user)


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
