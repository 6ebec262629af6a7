"""Subject access (UK GDPR Article 15): one archive of everything intake holds about a person.

The person is found as erasure finds them (`intake.privacy.erasure.plan`): every referral they
sent or are the subject or referrer of, on every channel, and those merged with them. The
archive (`write_archive`) is a zip with:

- `subject-access.json`: each referral (reference, channel, dates, urgency, status, safeguarding
  categories, extracted fields), its messages (SMS, email with subject, voicemail transcripts
  and recording links), its files' names and read text, what intake sent back, advocates'
  notes, field changes, and the audit of who viewed or changed it and when;
- `subject-access.html`: the same as a readable page (`templates/privacy/subject_access.html`);
- `files/<reference>/<n>-<name>`: the files themselves.

**Third parties** are listed, never removed: for each referral, the details of anyone other than
the person (the referrer when the person is the subject, the person referred when the person
referred someone else, other phone numbers and email addresses written in the messages), under
`third_parties`, for the person answering the request to redact before it is sent (ICO: "How do
we deal with requests involving other people's information?"). Referrals about someone else that
only mention the person are counted, not included: they need a person's judgement.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from intake.config import Settings
from intake.forwarding.payload import details_of
from intake.models import utcnow
from intake.privacy.erasure import Person, Plan, plan
from intake.store import Store
from intake.store.search import terms
from intake.templating import environment

SCHEMA = "intake-subject-access.v1"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _clean(row: Mapping[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: _iso(v) for k, v in row.items() if k not in drop and not isinstance(v, bytes)}


def _own(person: Person, value: str) -> bool:
    try:
        address = Person.of([value])
    except ValueError:
        return False
    return bool(address.phones & person.phones or address.emails & person.emails)


def third_parties(
    person: Person, sender: str, fields: Mapping[str, Any], bodies: list[str]
) -> list[dict[str, str]]:
    """Who else a referral names, for redaction (see the module docstring)."""
    found: list[dict[str, str]] = []
    details = details_of(dict(fields))
    subject = {k: str(details[k]) for k in ("name", "phone", "email", "dob") if details.get(k)}
    referrer = details.get("referrer") if isinstance(details.get("referrer"), dict) else {}
    is_subject = any(_own(person, subject.get(k, "")) for k in ("phone", "email"))
    if referrer and (is_subject or not _own(person, sender)):
        who = {k: str(v) for k, v in referrer.items() if isinstance(v, str | int) and v}
        if who and not any(_own(person, who.get(k, "")) for k in ("phone", "email")):
            found.append({"role": "referrer", **who})
    if subject and not is_subject and _own(person, sender):
        found.append({"role": "person referred", **subject})
    listed = {v for entry in found for v in entry.values()}
    for text in bodies:
        for term in sorted(terms(text)):
            is_phone = term.isdigit() and len(term) >= 10
            if ("@" in term or is_phone) and not _own(person, ("+" + term) if is_phone else term):
                value = "+" + term if is_phone else term
                if value not in listed:
                    found.append({"role": "named in a message", "contact": value})
                    listed.add(value)
    return found


def collect(store: Store, kind: str, value: str) -> tuple[Plan, dict[str, Any]]:
    """Everything held about the person (the JSON document) and the plan that found it.

    Raises `ValueError` / `LookupError` for a value that is not a phone number, email address
    or known reference (as `erasure.plan`).
    """
    planned = plan(store, kind, value)
    found = []
    for summary in store.privacy.summaries(planned.erased):
        referral = store.get_referral(summary["reference"])
        assert referral is not None and referral.id is not None
        messages = store.messages_for(referral.id)
        calls = [store.calls.get(m["provider_id"]) for m in messages if m["channel"] == "voice"]
        files = store.attachments.for_referral(referral.id)
        found.append(
            {
                "reference": referral.reference,
                "channel": referral.channel,
                "sender": referral.sender,
                "received_at": _iso(referral.received_at),
                "urgency": referral.urgency,
                "status": referral.status,
                "safeguarding": referral.safeguarding,
                "safe_to_contact": referral.safe_to_contact,
                "erased": summary["erased_at"] is not None,
                "legal_hold": bool(summary["legal_hold"]),
                "fields": details_of(referral.fields),
                "messages": [
                    {
                        "channel": m["channel"],
                        "sender": m["sender"],
                        "recipient": m["recipient"],
                        "received_at": _iso(m["received_at"]),
                        "subject": (m["meta"] or {}).get("subject"),
                        "body": m["body"],
                    }
                    for m in messages
                ],
                "calls": [_clean(c, ("id",)) for c in calls if c is not None],
                "files": [
                    {
                        "filename": f["filename"],
                        "content_type": f["content_type"],
                        "size": f["size"],
                        "text": f["text"],
                        "path": _file_path(referral.reference, f),
                    }
                    for f in files
                ],
                "sent_to_them": [
                    _clean(o, ("id", "referral_id", "dedupe_key", "provider_id"))
                    for o in store.outbound_for(referral.id)
                ],
                "notes": [
                    _clean(n, ("id", "referral_id")) for n in store.work.notes_for(referral.id)
                ],
                "field_changes": [
                    _clean(e, ("id", "referral_id")) for e in store.work.field_history(referral.id)
                ],
                "who_saw_or_changed_it": [
                    {"at": _iso(e["at"]), "who": e["actor"], "what": e["action"]}
                    for e in store.audit_for(referral.id)
                ],
                "third_parties": third_parties(
                    planned.person,
                    referral.sender,
                    referral.fields,
                    [str(m["body"] or "") for m in messages],
                ),
            }
        )
    document = {
        "schema": SCHEMA,
        "made_at": _iso(utcnow()),
        "person": {
            "phones": sorted(planned.person.phones),
            "emails": sorted(planned.person.emails),
        },
        "referrals": found,
        "mentioned_in_other_referrals": len(planned.mentioned),
    }
    return planned, document


def _file_path(reference: str, row: Mapping[str, Any]) -> str:
    name = _SAFE.sub("_", str(row["filename"]))[:80] or "file"
    return f"files/{reference}/{row['message_id']}-{row['position']}-{name}"


def write_archive(
    settings: Settings, store: Store, kind: str, value: str, out: IO[bytes] | Path
) -> dict[str, Any]:
    """Write the zip (see the module docstring) to `out`; the JSON document it holds."""
    _, document = collect(store, kind, value)
    html = (
        environment(settings.templates_dir)
        .get_template("privacy/subject_access.html")
        .render(doc=document, org_name=settings.org_name)
    )
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "subject-access.json", json.dumps(document, indent=2, ensure_ascii=False, default=str)
        )
        archive.writestr("subject-access.html", html)
        for referral in document["referrals"]:
            rows = store.attachments.for_referral(
                store.privacy.id_for_reference(referral["reference"]) or 0
            )
            for row in rows:
                full = store.attachments.get(row["id"])
                if full is not None:
                    archive.writestr(_file_path(referral["reference"], row), full["data"])
    return document
