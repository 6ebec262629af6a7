"""Staff accounts: Argon2 password hashes, log-in throttling, revocable sessions, and
administering accounts.

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
  elsewhere cannot lock its owner out;
- an unlock (`unlock`, `reset_password`) makes the account's earlier failures stop counting.

**Sessions** are rows (`store.sessions`): a log-in starts one, and it ends on log-out, after
`session_idle_minutes` without a request, `SESSION_HOURS` after it began, when the password
changes (`change_password`, `reset_password`, or `set_password_hash` anywhere) and when the
account is disabled (`end_sessions`; the check also refuses a disabled account or a session older
than the last password change, whoever forgot to end it).

**A second factor** (TOTP, RFC 6238, with `pyotp`): each account sets one up
(`totp_begin`, then `totp_confirm` with a first code, which gives ten single-use recovery
codes); with `INTAKE_REQUIRE_TOTP` on (the default outside `intake demo`) nobody uses the
dashboard until they have. A log-in is the password, then a code (`second_factor`): a code is
accepted once (its time step is recorded) within one step either side for clock drift; a
recovery code works once. Wrong codes count as failed log-ins, so the throttling above applies
to them too. An admin (`intake user reset-totp`, audited) clears a lost factor so it is set up
again. WCAG 2.2 3.3.8 (accessible authentication): codes can be pasted or filled in by a
password manager, no puzzle.

**Who administers accounts** (the dashboard's Users page and `intake user ...`): an **admin**
does everything. A **manager** may list accounts and add, disable, enable, unlock and reset the
password of **advocates**: a duty manager at night must be able to let a locked-out advocate back
in without waiting for an admin, but cannot make or change managers and admins, nor change
anyone's role. Nobody disables or demotes themselves, and the last active admin cannot be
disabled or demoted. Every change is audited (`user.*`, the target's email in the detail) in
the same transaction as the change; the CLI acts as `cli:<operating-system user>`.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from intake.config import Settings
from intake.models import utcnow
from intake.store import ROLES, Store, User, UserExists

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
        staff = ("advocate", "volunteer")
        if target_role not in staff or (new_role is not None and new_role not in staff):
            return "Managers manage advocates' and volunteers' accounts only; ask an admin."
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
            end_sessions(store, target.email, "account disabled")
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
        store.users.set_password_hash(target.email, hashed, changed=True)
        store.users.change(target.email, unlocked_at=utcnow())
        end_sessions(store, target.email, "password reset")
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


# -- the second factor ------------------------------------------------------------------------

TOTP_ISSUER = "intake"
RECOVERY_CODES = 10


def _code_digest(code: str) -> str:
    return hashlib.sha256(
        code.strip().replace("-", "").replace(" ", "").lower().encode()
    ).hexdigest()


def totp_begin(settings: Settings, store: Store, email: str) -> tuple[str, str]:
    """A new, unconfirmed secret for the account (replacing an unconfirmed one); (secret,
    otpauth URI) for an authenticator app. Raises LookupError for no such account."""
    state = store.users.totp_state(email)
    if state is None:
        raise LookupError(f"no account {email}")
    secret = state.secret if state.secret and not state.confirmed else pyotp.random_base32()
    if secret != state.secret:
        store.users.set_totp(email, secret=secret)
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=email, issuer_name=f"{TOTP_ISSUER} ({settings.org_name})"
    )
    return secret, uri


def _step_of(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code `code` is, within one step of now; None if none."""
    totp = pyotp.TOTP(secret)
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == totp.digits):
        return None
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def totp_confirm(store: Store, email: str, code: str, now: datetime | None = None) -> list[str]:
    """Turn the second factor on with a first code from the app; the recovery codes to show
    once. Raises ValueError when the code is not right."""
    state = store.users.totp_state(email)
    if state is None or not state.secret or state.confirmed:
        raise ValueError("set up the authenticator app first")
    step = _step_of(state.secret, code, now or utcnow())
    if step is None:
        raise ValueError("that code is not right: check the app's clock and try the next code")
    codes = ["-".join(secrets.token_hex(2) for _ in range(3)) for _ in range(RECOVERY_CODES)]
    store.users.set_totp(
        email,
        secret=state.secret,
        confirmed_at=utcnow(),
        recovery_codes=[_code_digest(c) for c in codes],
    )
    store.users.use_totp_step(email, step)
    store.audit(email, "user.totp_enabled", detail={"email": email})
    return codes


def second_factor(
    settings: Settings,
    store: Store,
    email: str,
    code: str,
    client: str = "",
    device: str | None = None,
    now: datetime | None = None,
) -> LoginResult:
    """The code after the password: a TOTP code or a recovery code; recorded and throttled
    as a log-in (a wrong code is a failed attempt)."""
    email = email.strip().lower()
    wait, why = wait_before_attempt(settings, store, email, client, device)
    if wait > 0:
        return LoginResult(None, wait=wait, why=why)
    user = store.users.get(email)
    state = store.users.totp_state(email)
    good = False
    how = "totp"
    if user is not None and user.active and state is not None and state.confirmed:
        assert state.secret is not None
        step = _step_of(state.secret, code, now or utcnow())
        if step is not None:
            good = store.users.use_totp_step(email, step)
        elif len(code.strip()) > 8:
            how = "recovery code"
            good = store.users.use_recovery_code(email, _code_digest(code))
    if not good or user is None:
        store.users.record_attempt(email, False, client, device)
        wait, why = wait_before_attempt(settings, store, email, client, device)
        return LoginResult(None, wait=wait, why=why)
    store.users.record_attempt(email, True, client, device)
    if how == "recovery code":
        left = len((store.users.totp_state(email) or state).recovery_codes)  # type: ignore[union-attr]
        store.audit(email, "user.recovery_code_used", detail={"left": left})
    return LoginResult(user)


def reset_totp(store: Store, actor: User | None, actor_name: str, email: str) -> User:
    """Clear an account's second factor (a lost phone): it is set up again at the next log-in.
    Only an admin (or the command line); ends the account's sessions."""
    target = _target(store, email)
    if actor is not None and actor.role != "admin":
        raise NotAllowed("only an admin can reset a second factor")
    with store.transaction():
        store.users.set_totp(target.email, secret=None)
        store.audit(actor_name, "user.totp_reset", detail={"email": target.email})
    end_sessions(store, target.email, "second factor reset")
    return target
