"""Erasure (UK GDPR Article 17) on SQLite and PostgreSQL with the real Redis: after it, the
person's number, address and words are nowhere in the database (a dump of every table, and on
SQLite the raw file) nor in Redis; referrals about others keep their content but not the
mention; the case systems are told."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq.job import Job

import channels
from intake import cli
from intake.config import Settings
from intake.forwarding import deliver
from intake.models import Attachment, InboundMessage, Referral
from intake.privacy import erasure
from intake.queue import enqueue_inbound
from intake.reference import new_reference
from intake.runtime import Runtime
from intake.store import metadata
from tests.forwarding import case_system as case_system_module

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PHONE = "+447700900123"
EMAIL = "ann.example@example.org"
OURS = "+447700900001"
# Words only the person wrote: none may survive erasure anywhere.
WORDS = ["quillwort", "marshbeck", "tallowmere", "fennimore"]
NEEDLES = [PHONE, "447700900123", "07700900123", "07700 900123", EMAIL, *WORDS]
SECRET = "whsec-test-erasure"


def referral(
    rt: Runtime,
    channel: str,
    sender: str,
    body: str,
    provider_id: str,
    fields: dict[str, object] | None = None,
    attachment: bytes | None = None,
) -> Referral:
    files = (
        (Attachment("letter.txt", "text/plain", len(attachment), attachment, attachment.decode()),)
        if attachment
        else ()
    )
    message = InboundMessage(channel, provider_id, sender, OURS, body, T0, attachments=files)
    made = Referral(
        reference=new_reference(),
        channel=channel,
        sender=sender,
        received_at=T0,
        raw_text=body,
        fields=fields or {},
    )
    return rt.store.create_referral(made, message)


def dump(rt: Runtime) -> str:
    """Every row of every table, as text (what a `pg_dump` or `.dump` would show)."""
    parts = []
    with rt.store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.append(repr(tuple(row)))
    return "\n".join(parts).lower()


def redis_text(rt: Runtime) -> str:
    """Every key of this installation and every job's arguments, as text."""
    parts = []
    prefix = rt.settings.queue_prefix
    for key in rt.redis.scan_iter(match=f"*{prefix}*", count=500):
        parts.append(key.decode("latin-1"))
        if key.startswith(b"rq:job:"):
            job = Job.fetch(key.decode()[len("rq:job:") :], connection=rt.redis)
            parts.append(erasure._text([job.args, job.kwargs]))
        else:
            parts.append(erasure._value(rt.redis, key))
    return "\n".join(parts).lower()


def present(text: str, needles: list[str]) -> list[str]:
    return [n for n in needles if n.lower() in text]


def test_a_person_is_erased_everywhere_and_nothing_else(rt: Runtime) -> None:
    store = rt.store
    sms = referral(rt, "sms", PHONE, f"I need help, the {WORDS[0]} home want me out", "SM1")
    assert sms.id is not None
    store.add_message(
        sms.id, InboundMessage("sms", "SM2", PHONE, OURS, f"also {WORDS[1]}", T0 + timedelta(1))
    )
    # a social worker's email about Ann: she is its subject
    about = referral(
        rt,
        "email",
        "duty@council.example",
        f"Referral for Ann, she says {WORDS[2]}",
        "<m1@council.example>",
        fields={"fields": {"name": "Ann Example", "phone": PHONE, "email": EMAIL}},
        attachment=f"Letter: {WORDS[2]} and {EMAIL}".encode(),
    )
    voicemail = referral(rt, "voice", PHONE, f"voicemail: {WORDS[3]}", "CA" + "1" * 32)
    store.calls.ensure("CA" + "1" * 32, sender=PHONE, recipient=OURS, withheld=False, started_at=T0)
    store.calls.update("CA" + "1" * 32, transcript=f"voicemail: {WORDS[3]}")
    store.calls.ensure("CA" + "2" * 32, sender=PHONE, recipient=OURS, withheld=False, started_at=T0)
    # someone else's referral naming her number: only the mention goes
    other = referral(
        rt,
        "sms",
        "+447700900999",
        "Please help my dad Bob, his neighbour is on 07700 900123",
        "SM3",
    )
    # merged into hers from another number: erased with it
    merged = referral(rt, "sms", "+447700900777", f"it is me again {WORDS[1]}", "SM4")
    untouched = referral(rt, "email", "kim@example.net", "Kim needs an IMHA", "<m2@example.net>")
    assert merged.id and other.id and about.id and voicemail.id and untouched.id
    store.links.suggest(sms.id, merged.id, "same_name")
    link = store.links.touching(sms.id)[0]
    store.links.decide(link["id"], "confirmed", "manager@example.org")
    store.claim_outbound(
        referral_id=sms.id,
        kind="ack",
        channel="sms",
        recipient=PHONE,
        body=f"Thanks, about {WORDS[0]}",
        dedupe_key="ack-1",
    )
    store.optouts.record(PHONE, opted_out=True, keyword="STOP", provider_id="SM9", at=T0)
    store.work.add_note(sms.id, "advocate@example.org", f"rang her about {WORDS[0]}")
    store.work.record_field_edit(sms.id, "name", None, f"Ann {WORDS[1]}", "advocate@example.org")
    store.audit(
        "advocate@example.org", "referral.viewed", referral_id=sms.id, detail={"search": WORDS[0]}
    )
    # a message of hers still queued, and someone else's that must stay
    message = InboundMessage("sms", "SM5", PHONE, OURS, f"and {WORDS[3]}", T0)
    enqueue_inbound(rt.settings, rt.redis, "sms", message.to_payload(), priority="high", key="SM5")
    stranger = InboundMessage("sms", "SM6", "+447700900555", OURS, "hello from Kim", T0)
    kept = enqueue_inbound(
        rt.settings, rt.redis, "sms", stranger.to_payload(), priority="high", key="SM6"
    )
    # the check can fail: it is all there first
    assert set(present(dump(rt), NEEDLES)) >= {PHONE, EMAIL, "07700 900123", *WORDS}
    assert present(redis_text(rt), [PHONE, WORDS[3]]) == [PHONE, WORDS[3]]

    planned = erasure.plan(store, "phone", "07700 900123")
    assert planned.erased == {sms.id, about.id, voicemail.id, merged.id}
    assert planned.mentioned == {other.id}
    counts = erasure.erase(rt, planned, actor="dpo@example.org", reason="Art. 17 request")

    assert counts.referrals == 4 and counts.messages == 5 and counts.attachments == 1
    assert counts.optouts == 1 and counts.calls == 2 and counts.mentions_redacted == 2
    assert present(dump(rt), NEEDLES) == []
    assert present(redis_text(rt), NEEDLES) == []
    assert Job.exists(kept.id, connection=rt.redis)
    if rt.store.engine.dialect.name == "sqlite":
        path = Path(rt.store.engine.url.database or "")
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*")).lower()
        assert [n for n in NEEDLES if n.lower().encode() in raw] == []

    # the rows statistics need are kept, anonymised
    kept_referral = store.get_referral(sms.reference)
    assert kept_referral is not None and kept_referral.sender == "" and kept_referral.raw_text == ""
    assert store.privacy.summaries([sms.id])[0]["erased_at"] is not None
    # someone else's referral keeps its words, not her number
    bob = store.get_referral(other.reference)
    assert bob is not None and "Please help my dad Bob" in bob.raw_text
    assert "[erased]" in bob.raw_text
    assert store.get_referral(untouched.reference).raw_text == "Kim needs an IMHA"  # type: ignore[union-attr]
    # the audit keeps that it happened, by whom and why, not whom
    entries = store.audit_for()
    summary = [e for e in entries if e["action"] == "privacy.erased"]
    assert summary[0]["actor"] == "dpo@example.org"
    assert summary[0]["detail"]["reason"] == "Art. 17 request"
    assert {e["referral_id"] for e in entries if e["action"] == "referral.erased"} == {
        sms.id,
        about.id,
        voicemail.id,
        merged.id,
    }


def test_a_reference_erases_the_person_it_is_from_and_about(rt: Runtime) -> None:
    first = referral(rt, "sms", PHONE, f"help {WORDS[0]}", "SM1")
    second = referral(
        rt,
        "email",
        EMAIL,
        f"it's Ann again, {WORDS[1]}",
        "<m9@example.org>",
        fields={"phone": PHONE},
    )
    third = referral(rt, "email", "kim@example.net", "Kim needs an IMHA", "<m2@example.net>")
    planned = erasure.plan(rt.store, "reference", first.reference.lower())
    assert planned.erased == {first.id, second.id}
    with pytest.raises(erasure.NotFound):
        erasure.plan(rt.store, "reference", "REF-ZZZZZZ")
    with pytest.raises(ValueError):
        erasure.plan(rt.store, "phone", "not a number")
    with pytest.raises(ValueError):
        erasure.erase(rt, planned, actor="dpo", reason="  ")
    assert third.id not in planned.erased


def test_the_case_systems_are_told_and_queued_updates_are_withdrawn(
    rt: Runtime, settings: Settings
) -> None:
    system = case_system_module.start(SECRET)
    try:
        forwarding = replace(
            rt.settings,
            case_system=["webhook"],
            case_webhook_url=system.url + "/hook",
            case_webhook_secret=SECRET,
            forward_attempts=1,
        )
        fwd = Runtime.build(forwarding, channels.registry())
        try:
            run_forwarding(fwd, system)
        finally:
            fwd.close()
    finally:
        system.close()


def run_forwarding(rt: Runtime, system: case_system_module.CaseSystem) -> None:
    from intake.forwarding import schedule

    made = referral(rt, "sms", PHONE, f"help {WORDS[0]}", "SM1")
    assert schedule(rt, made, "created")
    deliver(rt, made.reference, "created")
    assert [r.json()["type"] for r in system.requests] == ["referral.created"]
    store = rt.store
    store.add_message(made.id, InboundMessage("sms", "SM2", PHONE, OURS, "more", T0))  # type: ignore[arg-type]
    changed = store.get_referral(made.reference)
    assert changed is not None and schedule(rt, changed, "updated")
    pending = store.forwards.events_for(made.id)[-1]  # type: ignore[arg-type]
    assert pending["status"] == "queued"

    erasure.erase(rt, erasure.plan(store, "phone", PHONE), actor="dpo", reason="Art. 17")

    events = {e["event_id"]: e["status"] for e in store.forwards.events_for(made.id)}  # type: ignore[arg-type]
    assert events[pending["event_id"]] == "cancelled"
    assert not Job.exists(pending["job_id"], connection=rt.redis)
    assert events["erased"] == "queued"
    deliver(rt, made.reference, "erased")
    sent = system.requests[-1]
    assert (
        sent.signature_ok
        and {k.lower(): v for k, v in sent.headers.items()}["intake-event"] == "referral.erased"
    )
    body = sent.json()
    assert body["schema"] == "referral-event.v2"
    assert body["referral"] == {"reference": made.reference}
    import jsonschema

    from intake.forwarding import payload

    jsonschema.validate(body, payload.schema(2))
    assert PHONE not in sent.body.decode() and WORDS[0] not in sent.body.decode()


def test_the_command_asks_then_erases_and_prints_counts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = Runtime.build(settings, channels.registry())
    try:
        made = referral(rt, "sms", PHONE, f"help {WORDS[0]}", "SM1")
    finally:
        rt.close()
    env: dict[str, str] = {
        "DATABASE_URL": settings.effective_database_url,
        "REDIS_URL": settings.redis_url or "",
        "QUEUE_PREFIX": settings.queue_prefix,
        "DATA_DIR": str(settings.data_dir),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    answers: list[str] = ["no"]
    monkeypatch.setattr("builtins.input", lambda _prompt: answers.pop(0))
    assert cli.main(["privacy", "erase", "--phone", PHONE, "--reason", "asked"]) == 1
    assert "stopped: nothing erased" in capsys.readouterr().out
    assert cli.main(["privacy", "erase", "--phone", PHONE, "--reason", "asked", "--yes"]) == 0
    out = capsys.readouterr().out
    assert made.reference in out and "referrals 1" in out
    assert (
        cli.main(["privacy", "erase", "--email", "nobody@example.org", "--reason", "x", "--yes"])
        == 0
    )
    assert "nothing found" in capsys.readouterr().out
