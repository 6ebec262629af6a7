"""Subject access on SQLite and PostgreSQL: one archive with every message of the person, by SMS,
email and voicemail, their files, what was sent back and who saw it; third parties listed."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

import channels
from intake import cli
from intake.config import Settings
from intake.models import Attachment, InboundMessage, Referral
from intake.privacy import access
from intake.reference import new_reference
from intake.runtime import Runtime
from tests.privacy.test_erasure import T0

PHONE = "+447700900123"
EMAIL = "ann.example@example.org"
OURS = "+447700900001"


def add(
    rt: Runtime,
    channel: str,
    sender: str,
    body: str,
    pid: str,
    fields: dict[str, object] | None = None,
    meta: dict[str, object] | None = None,
    files: tuple[Attachment, ...] = (),
) -> Referral:
    message = InboundMessage(
        channel, pid, sender, OURS, body, T0, meta=meta or {}, attachments=files
    )
    made = Referral(new_reference(), channel, sender, T0, raw_text=body, fields=fields or {})
    return rt.store.create_referral(made, message)


def test_one_archive_holds_every_channel_and_lists_third_parties(rt: Runtime) -> None:
    store = rt.store
    sms = add(rt, "sms", PHONE, "Text: I need help with my care plan", "SM1")
    mail = add(
        rt,
        "email",
        EMAIL,
        "Email: my landlord is <b>threatening</b> me, call Dave on 07700 900456",
        "<m1@example.org>",
        fields={"phone": PHONE, "email": EMAIL},
        meta={"subject": "Help please"},
        files=(Attachment("letter.pdf", "application/pdf", 9, b"%PDF-1.4x", "a letter"),),
    )
    voice = add(rt, "voice", PHONE, "Voicemail: please ring me back", "CA" + "1" * 32)
    store.calls.ensure("CA" + "1" * 32, sender=PHONE, recipient=OURS, withheld=False, started_at=T0)
    store.calls.update("CA" + "1" * 32, recording_url="https://api.twilio.com/rec/RE1")
    # a professional referring her: the referrer is a third party
    about = add(
        rt,
        "email",
        "duty@council.example",
        "Referral for Ann",
        "<m2@council.example>",
        fields={"phone": PHONE, "referrer": {"name": "Sam Duty", "email": "duty@council.example"}},
    )
    other = add(rt, "sms", "+447700900999", "Unrelated person", "SM9")
    assert sms.id and mail.id and voice.id and about.id and other.id
    store.claim_outbound(
        referral_id=sms.id,
        kind="ack",
        channel="sms",
        recipient=PHONE,
        body="Thank you, we got your message",
        dedupe_key="ack-1",
    )
    store.work.add_note(sms.id, "advocate@example.org", "Rang back, no answer")
    store.audit("advocate@example.org", "referral.viewed", referral_id=sms.id)

    buffer = io.BytesIO()
    document = access.write_archive(rt.settings, store, "phone", "07700 900123", buffer)
    archive = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    names = set(archive.namelist())
    assert {"subject-access.json", "subject-access.html"} <= names
    stored = json.loads(archive.read("subject-access.json"))
    assert stored == json.loads(json.dumps(document, default=str))
    by_ref = {r["reference"]: r for r in stored["referrals"]}
    assert set(by_ref) == {sms.reference, mail.reference, voice.reference, about.reference}
    bodies = [m["body"] for r in stored["referrals"] for m in r["messages"]]
    assert any(b.startswith("Text:") for b in bodies)
    assert any(b.startswith("Email:") for b in bodies)
    assert any(b.startswith("Voicemail:") for b in bodies)
    assert by_ref[mail.reference]["messages"][0]["subject"] == "Help please"
    assert by_ref[voice.reference]["calls"][0]["recording_url"].endswith("RE1")
    path = by_ref[mail.reference]["files"][0]["path"]
    assert archive.read(path) == b"%PDF-1.4x"
    assert by_ref[sms.reference]["sent_to_them"][0]["body"] == "Thank you, we got your message"
    assert by_ref[sms.reference]["notes"][0]["body"] == "Rang back, no answer"
    assert ("advocate@example.org", "referral.viewed") in {
        (a["who"], a["what"]) for a in by_ref[sms.reference]["who_saw_or_changed_it"]
    }
    # third parties, listed for redaction, never removed
    assert {"role": "referrer", "name": "Sam Duty", "email": "duty@council.example"} in by_ref[
        about.reference
    ]["third_parties"]
    assert {"role": "named in a message", "contact": "+447700900456"} in by_ref[mail.reference][
        "third_parties"
    ]
    assert by_ref[sms.reference]["third_parties"] == []
    html = archive.read("subject-access.html").decode()
    assert "Voicemail: please ring me back" in html and "Sam Duty" in html
    assert "&lt;b&gt;threatening&lt;/b&gt;" in html  # what they wrote is shown, never run
    assert "Unrelated person" not in json.dumps(stored)


def test_the_command_writes_the_zip_and_audits_it(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    rt = Runtime.build(settings, channels.registry())
    try:
        made = add(rt, "sms", PHONE, "help me", "SM1")
        out = tmp_path / "sar.zip"
        assert (
            cli.main(["privacy", "export", "--reference", made.reference, "--out", str(out)]) == 0
        )
        assert "1 referral(s)" in capsys.readouterr().out
        assert zipfile.ZipFile(out).read("subject-access.json")
        assert [e for e in rt.store.audit_for() if e["action"] == "privacy.exported"]
        bad = tmp_path / "bad.zip"
        assert cli.main(["privacy", "export", "--phone", "nope", "--out", str(bad)]) == 1
        assert not bad.exists()
    finally:
        rt.close()
