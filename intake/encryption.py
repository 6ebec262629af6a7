"""Where the encryption and search keys come from (`intake.store.crypto` uses them).

In order:

1. `INTAKE_ENCRYPTION_KEYS`: Fernet keys (32 url-safe base64 bytes, as
   `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`
   prints), comma-separated, **newest first**; or `INTAKE_ENCRYPTION_KEY_FILE`, a file with one
   key a line, newest first (`#` comments). `INTAKE_SEARCH_KEY` (or `INTAKE_SEARCH_KEY_FILE`):
   the blind index's HMAC key, at least 32 characters, never rotated without
   `intake privacy reencrypt` (which rebuilds the index).
2. Neither given: `DATA_DIR/encryption.keys` and `DATA_DIR/search.key`, made (mode 0600) the
   first time a process needs them. That suits one machine on SQLite; with PostgreSQL, or
   processes on several machines, every process must share the same keys, so the start-up check
   asks for them to be set (`intake.settings_check`).

Keep the keys away from the database's backups: a backup with its keys beside it protects
nothing.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from intake.config import ConfigError, Settings
from intake.store.crypto import Keyring

ENCRYPTION_FILE = "encryption.keys"
SEARCH_FILE = "search.key"
MIN_SEARCH_KEY = 32


def _lines(path: Path, name: str) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name} {str(path)!r} cannot be read: {exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _private_file(path: Path, content: str) -> None:
    """Make `path` with `content`, readable by its owner only, unless it exists. Written to a
    temporary file and linked into place, so a process starting at the same moment never reads
    it half written; whichever links first wins and the other keeps its keys."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(content)
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


def encryption_keys(settings: Settings) -> list[str]:
    if settings.encryption_keys:
        return list(settings.encryption_keys)
    if settings.encryption_key_file:
        return _lines(settings.encryption_key_file, "INTAKE_ENCRYPTION_KEY_FILE")
    path = settings.data_dir / ENCRYPTION_FILE
    _private_file(
        path, "# intake encryption keys, newest first\n" + Fernet.generate_key().decode() + "\n"
    )
    return _lines(path, "the key file")


def search_key(settings: Settings) -> str:
    if settings.search_key:
        return settings.search_key
    if settings.search_key_file:
        found = _lines(settings.search_key_file, "INTAKE_SEARCH_KEY_FILE")
        return found[0] if found else ""
    path = settings.data_dir / SEARCH_FILE
    _private_file(path, secrets.token_urlsafe(48) + "\n")
    found = _lines(path, "the search key file")
    return found[0] if found else ""


def keyring(settings: Settings) -> Keyring:
    """The keys for this installation; raises `ConfigError` naming what is wrong."""
    keys = encryption_keys(settings)
    if not keys:
        raise ConfigError("INTAKE_ENCRYPTION_KEYS: no key given")
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                f"INTAKE_ENCRYPTION_KEYS: key {number} is not a Fernet key (32 url-safe base64 "
                "bytes; Fernet.generate_key() makes one)"
            ) from None
    search = search_key(settings)
    if len(search) < MIN_SEARCH_KEY:
        raise ConfigError(f"INTAKE_SEARCH_KEY must be at least {MIN_SEARCH_KEY} characters")
    return Keyring(keys, search)


def problems(settings: Settings) -> list[str]:
    """The start-up check's lines about keys (empty when all is well)."""
    explicit = bool(
        (settings.encryption_keys or settings.encryption_key_file)
        and (settings.search_key or settings.search_key_file)
    )
    url = settings.effective_database_url
    if not explicit and not url.startswith("sqlite"):
        return [
            "with PostgreSQL every process must share the same keys: set INTAKE_ENCRYPTION_KEYS "
            "(or INTAKE_ENCRYPTION_KEY_FILE) and INTAKE_SEARCH_KEY (or INTAKE_SEARCH_KEY_FILE)"
        ]
    try:
        keyring(settings)
    except ConfigError as exc:
        return [str(exc)]
    return []
