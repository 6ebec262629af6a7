"""Retention on SQLite and PostgreSQL: exactly what the schedule says goes, nothing on legal hold,
a dry run counts what a run does, the audit chain still verifies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from intake import cli, settings_check
from intake.config import ConfigError, Settings
from intake.models import Attachment, InboundMessage, Referral, utcnow
from intake.privacy import retention
from intake.reference import new_reference
from intake.store import Keyring, Store
from intake.store.schema import audit_log, voice_calls

NOW = utcnow()
OURS = "+447700900001"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    # encrypted, as every process runs: emptiness tests in SQL must still see empty values
    s = Store.from_url(database_url, Keyring([Fernet.generate_key()], "s" * 40))
    s.upgrade()
    yield s
    s.drop_schema()
    s.dispose()


def make(
    store: Store,
    body: str,
    *,
    closed_days_ago: int | None,
    received_days_ago: int = 400,
    urgency: str = "routine",
    outcome: str = "Signposted to another service",
) -> Referral:
    received = NOW - timedelta(days=received_days_ago)
    message = InboundMessage(
        "sms",
        "SM" + new_reference(),
        "+447700900123",
        OURS,
        body,
        received,
        attachments=(Attachment("a.txt", "text/plain", 4, b"file", "file"),),
    )
    made = store.create_referral(
        Referral(
            new_reference(),
            "sms",
            "+447700900123",
            received,
            raw_text=body,
            urgency=urgency,
            fields={"name": "Ann Example"},
        ),
        message,
    )
    assert made.id is not None
    store.claim_outbound(
        referral_id=made.id,
        kind="ack",
        channel="sms",
        recipient="+447700900123",
        body="Thanks",
        dedupe_key="ack-" + made.reference,
    )
    if closed_days_ago is not None:
        store.update_referral(made.id, status="closed")
        store.work.set(made.id, outcome=outcome, closed_at=NOW - timedelta(days=closed_days_ago))
    return made


def state(store: Store, referral: Referral) -> tuple[str, int, int, bool]:
    """(body, attachments, outbound with a body, anonymised)."""
    assert referral.id is not None
    body = store.messages_for(referral.id)[0]["body"]
    files = len(store.attachments.for_referral(referral.id))
    sent = sum(1 for o in store.outbound_for(referral.id) if o["body"])
    erased = store.privacy.summaries([referral.id])[0]["erased_at"] is not None
    return body, files, sent, erased


def test_the_schedule_is_applied_exactly_and_legal_hold_stops_it(
    store: Store, settings: Settings
) -> None:
    due = make(store, "closed 100 days ago", closed_days_ago=100)
    held = make(store, "closed 100 days ago, on hold", closed_days_ago=100)
    assert held.id is not None
    store.privacy.set_legal_hold(held.id, True, "claim pending")
    still_open = make(store, "open for 400 days", closed_days_ago=None)
    recent = make(store, "closed 10 days ago", closed_days_ago=10)
    old = make(store, "closed seven years ago", closed_days_ago=7 * 365)
    # the first rule of [[bodies]] keeps an emergency referred to an advocate for 6 years
    kept = make(
        store,
        "emergency referred",
        closed_days_ago=100,
        urgency="emergency",
        outcome="Referred to an advocate",
    )
    store.audit("advocate@example.org", "referral.viewed", detail={"q": "Ann"})
    with store.engine.begin() as conn:
        conn.execute(
            audit_log.update()
            .where(audit_log.c.action == "referral.viewed")
            .values(at=NOW - timedelta(days=7 * 365))
        )
    store.calls.ensure(
        "CA" + "1" * 32,
        sender="+447700900999",
        recipient=OURS,
        withheld=False,
        started_at=NOW - timedelta(days=100),
    )
    store.calls.update("CA" + "1" * 32, outcome="missed")
    store.calls.ensure(
        "CA" + "2" * 32, sender="+447700900998", recipient=OURS, withheld=False, started_at=NOW
    )
    store.calls.update("CA" + "2" * 32, outcome="missed")
    store.seal()

    would = retention.run(settings, store, dry_run=True, now=NOW)
    assert state(store, due) == ("closed 100 days ago", 1, 1, False)  # a dry run changes nothing
    counts = retention.run(settings, store, now=NOW)
    assert counts == would
    assert counts == {
        "bodies": 2,  # due, old
        "attachments": 3,  # due, old, kept
        "outbound": 3,
        "referral": 1,  # old
        "audit": 1,
        "missed_calls": 1,
    }
    assert state(store, due) == ("", 0, 0, False)
    assert state(store, held) == ("closed 100 days ago, on hold", 1, 1, False)
    assert state(store, still_open) == ("open for 400 days", 1, 1, False)
    assert state(store, recent) == ("closed 10 days ago", 1, 1, False)
    assert state(store, old) == ("", 0, 0, True)
    assert state(store, kept) == ("emergency referred", 0, 0, False)
    anonymised = store.get_referral(old.reference)
    assert anonymised is not None and anonymised.fields == {} and anonymised.sender == ""
    with store.engine.connect() as conn:
        calls = list(conn.execute(sa.select(voice_calls.c.call_sid)).scalars())
    assert calls == ["CA" + "2" * 32]
    # a second run finds nothing more; the run is audited with counts, and the chain holds
    assert set(retention.run(settings, store, now=NOW).values()) == {0}
    runs = [e for e in store.audit_for() if e["action"] == "privacy.retention"]
    assert runs[0]["detail"]["counts"] == counts
    assert store.verify().ok


def test_a_schedule_file_of_your_own_and_its_mistakes(tmp_path: Path, settings: Settings) -> None:
    mine = tmp_path / "retention.toml"
    mine.write_text('[[bodies]]\nkeep_days = 30\nafter = "received"\n')
    schedule = retention.load(replace(settings, retention_file=mine))
    assert list(schedule.rules) == ["bodies"] and schedule.rules["bodies"][0].keep_days == 30
    for text, said in (
        ("[[letters]]\nkeep_days = 3\n", "unknown record class 'letters'"),
        ("[[bodies]]\nkeep_days = 0\n", "keep_days must be"),
        ('[[bodies]]\nkeep_days = 3\nurgency = ["soon"]\n', "urgency must be among"),
        ('[[referral]]\nkeep_days = 3\naction = "delete"\n', "action must be one of anonymise"),
        ("[bodies]\nkeep_days = 3\n", "write [[bodies]]"),
        ("[[bodies]\n", "not valid TOML"),
    ):
        mine.write_text(text)
        with pytest.raises(ConfigError, match=said.replace("[", r"\[")):
            retention.load(replace(settings, retention_file=mine))
        assert any(
            said in p for p in settings_check.problems(replace(settings, retention_file=mine))
        )
    missing = replace(settings, retention_file=tmp_path / "nope.toml")
    assert any("cannot be read" in p for p in settings_check.problems(missing))
    assert not [p for p in settings_check.problems(settings) if "RETENTION" in p]


def test_the_command_dry_run_and_hold(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    store = Store.from_url(settings.effective_database_url)
    store.upgrade()
    due = make(store, "closed 100 days ago", closed_days_ago=100)
    assert cli.main(["privacy", "hold", due.reference, "--reason", "a claim"]) == 0
    assert cli.main(["privacy", "retention", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "retention (would go):" in out and re.search(r"bodies +0\n", out)
    assert cli.main(["privacy", "hold", due.reference, "--release"]) == 0
    assert cli.main(["privacy", "retention", "--dry-run"]) == 0
    assert re.search(r"bodies +1\n", capsys.readouterr().out)
    assert state(store, due)[0] == "closed 100 days ago"
    assert cli.main(["privacy", "retention"]) == 0
    assert "retention (done):" in capsys.readouterr().out
    assert state(store, due)[0] == ""
    assert cli.main(["privacy", "hold", "REF-ZZZZZZ", "--reason", "x"]) == 1
    store.dispose()


def test_the_clock_runs_it_once_a_day_however_many_clocks(settings: Settings) -> None:
    from intake.queue import connect

    redis = connect(settings.redis_url or "")
    try:
        assert retention.due_today(settings, redis) is True
        assert retention.due_today(settings, redis) is False
    finally:
        redis.close()
