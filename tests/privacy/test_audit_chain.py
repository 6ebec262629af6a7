"""The audit trail's hash chain on SQLite and PostgreSQL: a changed, deleted or moved row is the
first broken link; redaction by erasure keeps the chain whole."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa

import channels
from intake import cli
from intake.config import Settings
from intake.models import InboundMessage, Referral
from intake.privacy import erasure
from intake.reference import new_reference
from intake.runtime import Runtime
from intake.store import Store
from intake.store.schema import audit_log
from tests.privacy.test_erasure import T0


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.from_url(database_url)
    s.upgrade()
    yield s
    s.drop_schema()
    s.dispose()


def write(store: Store, n: int) -> None:
    for i in range(n):
        store.audit(f"advocate{i}@example.org", "referral.viewed", detail={"i": i, "q": "Ann"})


def tamper(store: Store, seq: int, **values: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.seq == seq).values(**values))


def test_a_whole_chain_verifies_and_each_kind_of_tampering_is_found(store: Store) -> None:
    write(store, 5)
    assert store.seal() == 5
    assert store.seal() == 0  # sealed once
    write(store, 2)  # later rows continue the chain
    assert store.seal() == 2
    report = store.verify()
    assert report.ok and report.checked == 7 and report.unsealed == 0 and report.head

    tamper(store, 3, detail={"i": 99, "q": "Ann"})
    report = store.verify()
    assert not report.ok and report.checked == 2
    assert report.broken is not None and report.broken.startswith("seq 3 ")
    assert "details were changed" in report.broken
    tamper(store, 3, detail={"i": 2, "q": "Ann"})
    assert store.verify().ok

    tamper(store, 4, actor="someone.else@example.org")
    assert "seq 4 " in (store.verify().broken or "")
    tamper(store, 4, actor="advocate3@example.org")

    with store.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 5))
    report = store.verify()
    assert report.broken is not None and "row seq 5 is missing" in report.broken


def test_retention_may_remove_the_oldest_rows_and_redaction_keeps_it_whole(store: Store) -> None:
    write(store, 4)
    store.seal()
    with store.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq <= 2))
        conn.execute(
            audit_log.update().where(audit_log.c.seq == 3).values(detail={"redacted": "erasure"})
        )
    report = store.verify()
    assert report.ok and report.first_seq == 3 and report.checked == 2


def test_the_chain_verifies_after_an_erasure(settings: Settings, database_url: str) -> None:
    rt = Runtime.build(replace(settings, database_url=database_url), channels.registry())
    try:
        rt.store.upgrade()
        message = InboundMessage("sms", "SM1", "+447700900123", "+447700900001", "help", T0)
        made = rt.store.create_referral(
            Referral(new_reference(), "sms", "+447700900123", T0, raw_text="help"), message
        )
        rt.store.audit("a@example.org", "referral.viewed", referral_id=made.id, detail={"q": "x"})
        rt.store.seal()
        erasure.erase(
            rt, erasure.plan(rt.store, "phone", "+447700900123"), actor="dpo", reason="asked"
        )
        report = rt.store.verify()
        assert report.ok and report.unsealed == 0 and report.checked >= 4
        with rt.store.engine.connect() as conn:
            details = conn.execute(
                sa.select(audit_log.c.detail).where(audit_log.c.referral_id == made.id)
            ).scalars()
            assert {"q": "x"} not in list(details)
    finally:
        rt.store.drop_schema()
        rt.close()


def test_the_command_reports_the_first_broken_link(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    store = Store.from_url(settings.effective_database_url)
    store.upgrade()
    write(store, 3)
    assert cli.main(["privacy", "verify-audit"]) == 0
    out = capsys.readouterr().out
    assert "sealed 3 new audit rows" in out and "audit chain verified: 3 rows" in out
    tamper(store, 2, action="referral.closed")
    assert cli.main(["privacy", "verify-audit", "--no-seal"]) == 1
    assert "BROKEN at seq 2 " in capsys.readouterr().out
    store.dispose()
