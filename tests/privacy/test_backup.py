"""`intake backup` and `intake restore` (SQLite's online backup API): a referral stored, backed up
while the database is open, lost, restored and read again, with its encrypted body."""

from __future__ import annotations

from pathlib import Path

import pytest

import channels
from intake import cli
from intake.config import Settings
from intake.models import InboundMessage, Referral
from intake.reference import new_reference
from intake.runtime import Runtime
from tests.privacy.test_erasure import T0


def test_a_backup_restores_and_the_referral_reads(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    rt = Runtime.build(settings, channels.registry())
    body = "Please help, my landlord at Quillwort Court is evicting me"
    made = rt.store.create_referral(
        Referral(new_reference(), "sms", "+447700900123", T0, raw_text=body),
        InboundMessage("sms", "SM1", "+447700900123", "+447700900001", body, T0),
    )
    out = tmp_path / "backup.db"
    # the service is running (the runtime holds the database open) while it is backed up
    assert cli.main(["backup", "--out", str(out)]) == 0
    assert "the encryption keys are not in it" in capsys.readouterr().out
    assert out.stat().st_mode & 0o777 == 0o600
    assert b"Quillwort" not in out.read_bytes()  # encrypted in the backup too
    assert cli.main(["backup", "--out", str(out)]) == 1  # never over an earlier backup

    later = Referral(new_reference(), "sms", "+447700900999", T0, raw_text="after the backup")
    rt.store.create_referral(
        later, InboundMessage("sms", "SM2", "+447700900999", "+447700900001", "x", T0)
    )
    rt.close()

    assert cli.main(["restore", str(out)]) == 1  # asks for --yes (stop intake first)
    assert cli.main(["restore", str(out), "--yes"]) == 0
    assert "1 referrals" in capsys.readouterr().out
    rt = Runtime.build(settings, channels.registry())
    try:
        restored = rt.store.get_referral(made.reference)
        assert restored is not None and restored.raw_text == body
        assert made.id is not None
        assert rt.store.messages_for(made.id)[0]["body"] == body
        assert rt.store.get_referral(later.reference) is None
        not_a_db = tmp_path / "junk.db"
        not_a_db.write_bytes(b"not a database at all" * 100)
        assert cli.main(["restore", str(not_a_db), "--yes"]) == 1
        assert rt.store.get_referral(made.reference) is not None  # untouched by the refusal
    finally:
        rt.close()


def test_postgresql_is_pointed_at_pg_dump(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    postgres_url: str,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert cli.main(["backup", "--out", str(tmp_path / "b.db")]) == 2
    assert "pg_dump --format=custom" in capsys.readouterr().err
