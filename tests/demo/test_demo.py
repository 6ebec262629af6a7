"""`intake demo` end to end, as a newcomer runs it: real processes, the stand-ins, the samples."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from intake import cli, encryption
from intake.config import Settings
from intake.store import Store
from intake.users import add_user

pytestmark = pytest.mark.slow


def test_the_demo_answers_every_sample_sender_and_stops_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "intake.cli", "demo", "--data-dir", str(folder), "--exit-after=0"],
        cwd=tmp_path,  # no .env of a real install here; the demo sets every setting anyway
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    password = re.search(r"Password\s+(\S+)", out).group(1)
    assert "demo@intake.example" in out
    received = out.split("What each sender received:", 1)[1]
    for who in ("+447700900301", "+447700900302", "jo.bloggs@example.org", "+447700900303"):
        after = received.split(who + ">", 1)[1].lstrip("\n")
        assert after.startswith(("    text:", "    email")), f"{who} got nothing:\n{out}"
    assert "Your reference is REF-" in out
    assert "call 999" in out  # the emergency's acknowledgement
    assert "EMERGENCY" in out  # the on-call alert
    assert list((folder / "mail").glob("*.eml")), "the mail catcher keeps what was sent"
    # the demo's data is encrypted with the keys it made in its folder (intake.encryption)
    keys = encryption.keyring(Settings(data_dir=folder))
    store = Store.from_url(f"sqlite:///{folder / 'intake.db'}", keys)
    try:
        assert store.count_referrals() == 4
        referrals = store.list_referrals(limit=10)
        assert {r.channel for r in referrals} == {"sms", "email", "voice"}
        email = next(r for r in referrals if r.channel == "email")
        [form] = store.attachments.for_referral(email.id)
        assert form["filename"] == "referral-form.txt"
        assert store.users.get("demo@intake.example") is not None
    finally:
        store.dispose()
    assert len(password) >= 12
    assert "intake demo stopped" in out


def test_the_run_banner_says_how_to_make_the_first_account(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    store = Store.from_url(settings.effective_database_url)
    store.upgrade()
    hint = cli._first_user_hint(settings)
    command = cli.intake_command()
    assert f"{command} user add you@example.org --role admin" in hint
    assert command == "intake" or Path(command).name == "intake"
    assert Path(sys.executable).with_name("intake").exists()  # the command it names works
    add_user(store, "first@example.org", "a long enough passphrase", "admin")
    assert "/login" in cli._first_user_hint(settings)
    store.dispose()
