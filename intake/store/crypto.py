"""Encryption at rest and the blind search index, as column types (UK GDPR Article 32).

The columns holding what people wrote or said and their contact details (`schema.py`: message
bodies, the referral's text and extracted fields, transcripts, files and their text, replies
sent, notes) are `EncryptedText`, `EncryptedBytes` or `EncryptedJSON`: values are encrypted with
Fernet (AES-128-CBC with HMAC-SHA256, from the `cryptography` package) as they are written and
decrypted as they are read, so the code that reads and writes them does not change. Keys come
newest first (`MultiFernet`): the newest encrypts, any decrypts, so a key is rotated by putting a
new one first and running `intake privacy reencrypt`.

`search_terms.term` is a `BlindTerm`: every term written or looked up is replaced by its
HMAC-SHA256 under a separate search key, so the index holds no words, names, numbers or
addresses, and a search is still one indexed equality lookup (`intake.store.search`).

The keys belong to the engine (`install`), read by each type from the dialect it is handed, so
two stores with different keys can live in one process (the tests do). With no keys installed
values are stored as they are (the store tests, a `Store.from_url` without keys); a stored
encrypted value read without keys is an error, never silently wrong. Values already stored in
plain text stay readable and are encrypted by `reencrypt`; an empty text stays empty (retention
and erasure test for emptiness in SQL).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Engine

PREFIX = "enc:v1:"
_BYTES_PREFIX = PREFIX.encode()
_ATTRIBUTE = "intake_keyring"


class KeyError_(RuntimeError):
    """Encrypted data and no key that opens it."""


class Keyring:
    """Fernet keys (newest first) and the search index's HMAC key."""

    def __init__(self, keys: Sequence[bytes | str], search_key: bytes | str) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self.fernet = MultiFernet([Fernet(k) for k in keys])
        self.search_key = search_key.encode() if isinstance(search_key, str) else search_key
        if len(self.search_key) < 16:
            raise ValueError("the search key must be at least 16 bytes")

    def encrypt(self, data: bytes) -> bytes:
        return self.fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self.fernet.decrypt(token)
        except InvalidToken as exc:
            raise KeyError_(
                "stored data cannot be decrypted with INTAKE_ENCRYPTION_KEYS: a key is missing"
            ) from exc

    def blind(self, term: str) -> str:
        return hmac.new(self.search_key, term.encode(), hashlib.sha256).hexdigest()


def install(engine: Engine, keyring: Keyring | None) -> None:
    """Give the engine's columns these keys (None: store values as they are)."""
    setattr(engine.dialect, _ATTRIBUTE, keyring)


def keyring_of(dialect: sa.Dialect) -> Keyring | None:
    return getattr(dialect, _ATTRIBUTE, None)


def _need(dialect: sa.Dialect) -> Keyring:
    keyring = keyring_of(dialect)
    if keyring is None:
        raise KeyError_("this data is encrypted: set INTAKE_ENCRYPTION_KEYS or its key file")
    return keyring


class EncryptedText(sa.types.TypeDecorator[str]):
    """Text, encrypted at rest (see the module docstring)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        keyring = keyring_of(dialect)
        if value is None or value == "" or keyring is None:
            return value
        return PREFIX + keyring.encrypt(value.encode()).decode()

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        if value is None or not value.startswith(PREFIX):
            return value
        return _need(dialect).decrypt(value[len(PREFIX) :].encode()).decode()


class EncryptedBytes(sa.types.TypeDecorator[bytes]):
    """Bytes (a file), encrypted at rest."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: sa.Dialect) -> bytes | None:
        keyring = keyring_of(dialect)
        if value is None or keyring is None:
            return value
        return _BYTES_PREFIX + keyring.encrypt(bytes(value))

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> bytes | None:
        if value is None:
            return None
        data = bytes(value)
        if not data.startswith(_BYTES_PREFIX):
            return data
        return _need(dialect).decrypt(data[len(_BYTES_PREFIX) :])


class EncryptedJSON(sa.types.TypeDecorator[Any]):
    """A JSON document, stored as one encrypted JSON string (the column stays JSON)."""

    impl = sa.JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        keyring = keyring_of(dialect)
        if value is None or keyring is None:
            return value
        text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
        return PREFIX + keyring.encrypt(text.encode()).decode()

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, str) and value.startswith(PREFIX):
            return json.loads(_need(dialect).decrypt(value[len(PREFIX) :].encode()))
        return value


class BlindTerm(sa.types.TypeDecorator[str]):
    """A search term, kept as its HMAC-SHA256 (64 hex characters) under the search key."""

    impl = sa.String(64)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        keyring = keyring_of(dialect)
        if value is None or keyring is None:
            return value
        return keyring.blind(value)
