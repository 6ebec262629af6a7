"""Staff accounts: Argon2 password hashes, log-in with lock-out, and administering accounts.

Argon2id (argon2-cffi's defaults) is memory-hard, so a stolen table is slow to crack. Lock-out is
counted per account from the attempts table, not per process, so it holds across web workers:
after `login_max_failures` failures within `login_lockout_minutes`, the account refuses even the
right password until the window has passed. Unknown emails are hashed against a dummy too, so
timing does not tell an attacker which accounts exist.

**Who administers accounts** (the dashboard's Users page and `intake user ...`): an **admin**
does everything. A **manager** may list accounts and add, disable, enable, unlock and reset the
password of **advocates**: a duty manager at night must be able to let a locked-out advocate back
in without waiting for an admin, but cannot make or change managers and admins, nor change
anyone's role. Nobody disables or demotes themselves, and the last active admin cannot be
disabled or demoted. Every change is audited (`user.*`, the target's email in the detail) in
the same transaction as the change; the CLI acts as `cli:<operating-system user>`.

**What ends a session now** (`end_sessions`): each account has a session epoch; a dashboard
session remembers the epoch it was made under, and `intake.web.auth.current_user` refuses a
session whose epoch is older than the account's, as well as any session of a disabled account
(the account is re-read on every request). Disabling an account and resetting its password raise
the epoch, so every copy of its session cookie stops working on its next request.
"""

from __future__ import annotations

import getpass
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from intake.config import Settings
from intake.models import utcnow
from intake.store import ROLES, Store, User, UserExists

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


# -- administering accounts ---------------------------------------------------------------------

ACTIONS = ("add", "disable", "enable", "unlock", "reset-password", "set-role")
MANAGER_MAY = frozenset({"add", "disable", "enable", "unlock", "reset-password"})


class NotAllowed(PermissionError):
    """The acting account may not make this change (the message says why)."""


def cli_actor() -> str:
    """Who the audit trail names for a change made with the `intake user` command."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"cli:{who}"


def may(actor: User | None, action: str, target_role: str, *, new_role: str | None = None) -> str:
    """Why `actor` may not do `action` to an account of `target_role` ("" when allowed).

    `actor` None is the operator at the server (the CLI), who may do everything.
    """
    if actor is None or actor.role == "admin":
        return ""
    if actor.role == "manager" and action in MANAGER_MAY:
        if target_role != "advocate" or (new_role not in (None, "advocate")):
            return "Managers manage advocates' accounts only; ask an admin."
        return ""
    return "Only admins and managers manage accounts."


def _target(store: Store, email: str) -> User:
    user = store.users.get(email)
    if user is None:
        raise LookupError(f"no account {email.strip().lower()}")
    return user


def _last_admin(store: Store, user: User) -> bool:
    admins = [u for u in store.users.all() if u.role == "admin" and u.active]
    return user.role == "admin" and user.active and len(admins) <= 1


def _check(store: Store, actor: User | None, action: str, target: User, **kw: str) -> None:
    why = may(actor, action, target.role, **kw)
    if why:
        raise NotAllowed(why)


def end_sessions(store: Store, email: str) -> None:
    """End every dashboard session of the account now (see the module docstring).

    Server-side sessions ("Real-world inputs and security") hook in here: delete the account's
    session rows as well, so nothing else has to change.
    """
    store.users.end_sessions(email)


def admin_add(
    store: Store, actor: User | None, actor_name: str, email: str, password: str, role: str
) -> User:
    """Create an account; raises `NotAllowed`, `UserExists`, `WeakPassword` or `ValueError`."""
    why = may(actor, "add", role)
    if why:
        raise NotAllowed(why)
    with store.transaction():
        user = add_user(store, email, password, role)
        store.audit(actor_name, "user.added", detail={"email": user.email, "role": role})
    return user


def set_active(
    store: Store, actor: User | None, actor_name: str, email: str, *, active: bool
) -> User:
    """Disable (and end its sessions) or enable an account."""
    target = _target(store, email)
    _check(store, actor, "enable" if active else "disable", target)
    if not active and actor is not None and actor.email == target.email:
        raise NotAllowed("You cannot disable your own account.")
    if not active and _last_admin(store, target):
        raise NotAllowed("This is the last active admin: make another admin first.")
    with store.transaction():
        store.users.change(target.email, active=active)
        if not active:
            end_sessions(store, target.email)
        action = "user.enabled" if active else "user.disabled"
        store.audit(actor_name, action, detail={"email": target.email})
    return _target(store, email)


def unlock(store: Store, actor: User | None, actor_name: str, email: str) -> User:
    """Let a locked-out account log in again at once (earlier failures stop counting)."""
    target = _target(store, email)
    _check(store, actor, "unlock", target)
    with store.transaction():
        store.users.change(target.email, unlocked_at=utcnow())
        store.audit(actor_name, "user.unlocked", detail={"email": target.email})
    return target


def reset_password(
    store: Store, actor: User | None, actor_name: str, email: str, password: str | None = None
) -> str:
    """Set a new password (a random one when none is given), unlock the account and end its
    sessions; returns the new password, to pass on to its owner once."""
    target = _target(store, email)
    _check(store, actor, "reset-password", target)
    new = password if password is not None else generate_password()
    hashed = hash_password(new)
    with store.transaction():
        store.users.change(target.email, password_hash=hashed, unlocked_at=utcnow())
        end_sessions(store, target.email)
        store.audit(actor_name, "user.password_reset", detail={"email": target.email})
    return new


def set_role(store: Store, actor: User | None, actor_name: str, email: str, role: str) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    target = _target(store, email)
    _check(store, actor, "set-role", target, new_role=role)
    if actor is not None and actor.email == target.email:
        raise NotAllowed("You cannot change your own role.")
    if role != "admin" and _last_admin(store, target):
        raise NotAllowed("This is the last active admin: make another admin first.")
    with store.transaction():
        store.users.change(target.email, role=role)
        store.audit(
            actor_name,
            "user.role_changed",
            detail={"email": target.email, "from": target.role, "to": role},
        )
    return _target(store, email)


def generate_password() -> str:
    """A random password of 20 characters (about 120 bits), easy to copy."""
    return secrets.token_urlsafe(15)


__all__ = [
    "ACTIONS",
    "LoginResult",
    "NotAllowed",
    "UserExists",
    "WeakPassword",
    "add_user",
    "authenticate",
    "end_sessions",
    "hash_password",
    "is_locked",
]
