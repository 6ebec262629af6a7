"""Encryption at rest and the blind index on SQLite and PostgreSQL: no body, transcript, file,
reply, note or contact field in plain text in the raw database; search still finds them; keys
rotate with `reencrypt`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from intake import encryption, settings_check
from intake.config import Settings
from intake.models import Attachment, InboundMessage, Referral
from intake.reference import new_reference
from intake.store import Keyring, QueueFilter, Store
from intake.store.crypto import KeyError_
from intake.store.schema import messages, search_terms
from tests.privacy.test_erasure import T0

SECRETS = [
    "quillwort",
    "marshbeck",
    "tallowmere",
    "fennimore",
    "brackenholt",
    "+447700900123",
    "wrenfield",
    "taken all my tablets",
]
SEARCH_KEY = "s" * 40


def keys(*fernet: bytes) -> Keyring:
    return Keyring(list(fernet), SEARCH_KEY)


@pytest.fixture
def key1() -> bytes:
    return Fernet.generate_key()


def fill(store: Store) -> Referral:
    message = InboundMessage(
        "sms",
        "SM1",
        "+447700900999",
        "+447700900001",
        f"My neighbour at {SECRETS[0]} needs help",
        T0,
        meta={"subject": f"About {SECRETS[6]}"},
        attachments=(
            Attachment("n.txt", "text/plain", 10, f"file {SECRETS[1]}".encode(), SECRETS[1]),
        ),
    )
    made = store.create_referral(
        Referral(
            new_reference(),
            "sms",
            "+447700900999",
            T0,
            raw_text=f"My neighbour at {SECRETS[0]} needs help",
            fields={"name": "Ann Example", "phone": SECRETS[5]},
            screening={"matches": [{"phrase": SECRETS[7], "start": 0, "end": 20}]},
        ),
        message,
    )
    assert made.id is not None
    store.claim_outbound(
        referral_id=made.id,
        kind="reply",
        channel="sms",
        recipient="+447700900999",
        body=f"About {SECRETS[2]}",
        dedupe_key="r1",
    )
    store.work.add_note(made.id, "advocate@example.org", f"rang {SECRETS[3]}")
    store.calls.ensure(
        "CA" + "1" * 32,
        sender="+447700900998",
        recipient="+447700900001",
        withheld=False,
        started_at=T0,
    )
    store.calls.update("CA" + "1" * 32, transcript=f"voicemail {SECRETS[4]}")
    return made


def found(store: Store, query: str) -> set[str]:
    page = store.worklist.queue(QueueFilter(status="all", search=query))
    return {row.referral.reference for row in page.rows}


def test_nothing_is_plain_in_the_raw_sqlite_file_and_search_still_works(
    tmp_path: Path, key1: bytes
) -> None:
    path = tmp_path / "intake.db"
    store = Store.from_url(f"sqlite:///{path}", keys(key1))
    store.upgrade()
    made = fill(store)
    # read back through the store: exactly what was written
    assert store.messages_for(made.id)[0]["body"] == f"My neighbour at {SECRETS[0]} needs help"  # type: ignore[arg-type]
    assert store.get_referral(made.reference).fields["phone"] == SECRETS[5]  # type: ignore[union-attr]
    assert store.attachments.get(1)["data"] == f"file {SECRETS[1]}".encode()  # type: ignore[index]
    assert store.calls.get("CA" + "1" * 32)["transcript"] == f"voicemail {SECRETS[4]}"  # type: ignore[index]
    assert found(store, SECRETS[0]) == {made.reference}
    assert found(store, SECRETS[6]) == {made.reference}  # the email's subject
    assert store.get_referral(made.reference).screening["matches"][0]["phrase"] == SECRETS[7]  # type: ignore[union-attr]
    assert found(store, "07700 900123") == {made.reference}  # a phone number in the fields
    assert found(store, "nothing-like-it") == set()
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        raw_terms = list(
            conn.execute(sa.select(sa.text("term")).select_from(search_terms)).scalars()
        )
    assert raw_terms and all(len(t) == 64 for t in raw_terms)
    store.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("intake.db*")).lower()
    assert [s for s in SECRETS if s.encode() in raw] == []
    assert b"neighbour" not in raw and b"ann example" not in raw


def test_on_either_database_the_stored_values_are_ciphertext(
    database_url: str, key1: bytes
) -> None:
    store = Store.from_url(database_url, keys(key1))
    store.upgrade()
    try:
        fill(store)
        with store.engine.connect() as conn:
            body = conn.execute(sa.text("SELECT body FROM messages")).scalar_one()
            fields = conn.execute(sa.text("SELECT fields FROM referrals")).scalar_one()
            data = conn.execute(sa.text("SELECT data FROM attachments")).scalar_one()
        assert body.startswith("enc:v1:") and SECRETS[0] not in body
        assert "enc:v1:" in str(fields) and SECRETS[5] not in str(fields)
        assert bytes(data).startswith(b"enc:v1:")
    finally:
        store.drop_schema()
        store.dispose()


def test_keys_rotate_and_plain_rows_are_encrypted_by_reencrypt(tmp_path: Path) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    url = f"sqlite:///{tmp_path / 'intake.db'}"
    plain = Store.from_url(url)  # before encryption was turned on
    plain.upgrade()
    legacy = fill(plain)
    plain.dispose()
    first = Store.from_url(url, keys(old))
    assert first.messages_for(legacy.id)[0]["body"].startswith("My neighbour")  # type: ignore[arg-type]
    first.dispose()
    rotated = Store.from_url(url, keys(new, old))
    counts = rotated.rekey.reencrypt()
    assert counts["messages"] == 1 and counts["attachments"] == 1 and counts["voice_calls"] == 1
    rotated.search.rebuild()
    rotated.dispose()
    only_new = Store.from_url(url, keys(new))
    assert only_new.get_referral(legacy.reference).fields["phone"] == SECRETS[5]  # type: ignore[union-attr]
    assert found(only_new, SECRETS[0]) == {legacy.reference}
    only_new.dispose()
    only_old = Store.from_url(url, keys(old))
    with pytest.raises(KeyError_, match="cannot be decrypted"):
        only_old.messages_for(legacy.id)  # type: ignore[arg-type]
    only_old.dispose()
    none = Store.from_url(url)
    with pytest.raises(KeyError_, match="INTAKE_ENCRYPTION_KEYS"):
        none.messages_for(legacy.id)  # type: ignore[arg-type]
    with none.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(messages)).scalar_one() == 1
    none.dispose()


def test_keys_come_from_settings_files_or_data_dir(settings: Settings, tmp_path: Path) -> None:
    made = encryption.keyring(replace(settings, data_dir=tmp_path / "d"))
    assert (tmp_path / "d" / "encryption.keys").stat().st_mode & 0o777 == 0o600
    again = encryption.keyring(replace(settings, data_dir=tmp_path / "d"))
    assert again.blind("word") == made.blind("word")  # the same files the second time
    key = Fernet.generate_key().decode()
    given = replace(settings, encryption_keys=(key,), search_key="k" * 32)
    assert encryption.problems(given) == []
    assert "not a Fernet key" in encryption.problems(replace(given, encryption_keys=("nope",)))[0]
    assert "at least 32" in encryption.problems(replace(given, search_key="short"))[0]
    postgres = replace(settings, database_url="postgresql://db.example/intake")
    assert any("every process must share" in p for p in settings_check.problems(postgres))
    assert not encryption.problems(replace(postgres, encryption_keys=(key,), search_key="k" * 32))
    key_file = tmp_path / "keys"
    key_file.write_text(f"# newest first\n{key}\n")
    assert encryption.encryption_keys(replace(settings, encryption_key_file=key_file)) == [key]
