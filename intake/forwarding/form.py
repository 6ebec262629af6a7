"""The referral laid out as a referral form: pure functions, event JSON in, a form out.

One form model feeds every human-readable copy, so the email body, its PDF, Charitylog's and
Lamplight's descriptions never disagree: the person, contact and safe-contact rules,
communication needs, the referrer, consent, the eligibility card and its deadlines, safeguarding
and urgency with the reasons, and the messages themselves. The machine-readable copies (the JSON
and the one-row CSV) come from the same event JSON (`payload.build`).

What each advocacy type's form shows, and its wording, is data: `forms/types.toml` under the
templates folder, which a provider can edit with the layouts beside it.
"""

from __future__ import annotations

import csv
import io
import tomllib
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from intake.config import Settings
from intake.extraction import eligibility
from intake.forwarding import payload
from intake.forwarding.base import ForwardEvent

ADVOCACY_TYPES = ("imha", "imca", "care_act", "nhs_complaints", "childrens", "general")
UK = ZoneInfo("Europe/London")
NOT_KNOWN = "Not known"

# The eligibility card's keys (issue "Statutory eligibility and deadlines"), as extraction reads
# them; a card may carry others, which are shown and exported too.
ELIGIBILITY_KEYS = eligibility.KEYS
# Card keys that are dates, and the ones that are deadlines (soonest first on the form).
DATE_KEYS = frozenset({"detained_on", "tribunal_deadline", "decision_due", "incident_date"})
DEADLINE_KEYS = ("tribunal_deadline", "decision_due")

# Details shown in their own section, so "other details" lists only the rest.
SHOWN = frozenset(
    {
        "name",
        "subject_name",
        "dob",
        "nhs_number",
        "phone",
        "email",
        "postcode",
        "setting",
        "preferred_contact",
        "safe_to_contact",
        "interpreter_language",
        "accessibility_needs",
        "referral_for",
        "relationship",
        "referrer",
        "consent",
        "advocacy_type",
        "eligibility",
        "need",
    }
)

# The one-row CSV: a stable column order (documented in the README); new columns go at the end.
CSV_COLUMNS = (
    "reference",
    "event",
    "event_id",
    "received_at",
    "channel",
    "sender",
    "urgency",
    "needs_review",
    "safeguarding",
    "safe_to_contact",
    "status",
    "advocacy_type",
    "name",
    "dob",
    "nhs_number",
    "phone",
    "email",
    "postcode",
    "setting",
    "preferred_contact",
    "interpreter_language",
    "accessibility_needs",
    "referral_for",
    "relationship",
    "referrer_name",
    "referrer_role",
    "referrer_organisation",
    "referrer_phone",
    "referrer_email",
    "consent",
    *(f"eligibility.{key}" for key in ELIGIBILITY_KEYS),
    "message_count",
    "messages",
    "language",
    "language_preference",
    "communication_needs",
    "no_voice_call",
)
# Spreadsheet programs run a cell that starts with one of these as a formula (OWASP, "CSV
# Injection"): such a cell is written with a leading apostrophe, which they show as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev"})


@lru_cache(maxsize=8)
def _definitions(path: Path, mtime: float) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def definitions(templates_dir: Path) -> dict[str, Any]:
    """`forms/types.toml` under the templates folder (read again when the file changes)."""
    path = templates_dir / "forms" / "types.toml"
    return _definitions(path, path.stat().st_mtime)


def advocacy_kind(details: dict[str, Any]) -> str:
    """The form to use: the referral's advocacy type, "general" when unknown or unlisted."""
    kind = str(details.get("advocacy_type") or "general").strip().lower()
    return kind if kind in ADVOCACY_TYPES else "general"


def eligibility_card(details: dict[str, Any]) -> dict[str, Any]:
    """The `eligibility` card among the fields ({} when absent), without unknown values."""
    card = details.get("eligibility")
    if not isinstance(card, dict):
        return {}
    return {str(k): v for k, v in card.items() if v is not None and v != ""}


def parse_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def show_date(value: Any) -> str:
    """An ISO date as people read it ("Fri 4 Dec 2026"); anything else as it is."""
    day = parse_date(value)
    return f"{day:%a} {day.day} {day:%b %Y}" if day else str(value)


def show_time(value: Any) -> str:
    """An ISO timestamp in UK time: "Mon 2 Mar 2026 09:15"."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        local = value.astimezone(UK) if value.tzinfo else value
        return f"{local:%a} {local.day} {local:%b %Y %H:%M}"
    return str(value)


def show(value: Any) -> str:
    """A field value for people: Yes/No, lists joined, nothing as "Not known"."""
    if value is None or value == "" or value == []:
        return NOT_KNOWN
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {show(v)}" for k, v in value.items())
    return str(value)


def _card_value(definition: dict[str, Any], key: str, value: Any) -> str:
    if key in DATE_KEYS:
        return show_date(value)
    labels = definition.get("values", {}).get(key, {})
    if isinstance(value, str) and value in labels:
        return str(labels[value])
    return show(value)


def complaint_limit(incident: Any) -> date | None:
    """The last day to complain about an event on `incident`: 12 months after it.

    Source: Local Authority Social Services and NHS Complaints (England) Regulations 2009,
    reg 12(1): 12 months from the event or, if later, from when the complainant learned of it
    (reg 12(2): the limit does not apply where there is good reason). A 29 February event counts
    from 28 February.
    """
    day = parse_date(incident)
    if day is None:
        return None
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def deadlines(card: dict[str, Any], definition: dict[str, Any]) -> list[dict[str, str]]:
    """The card's deadlines, soonest first: label, ISO date and the date as people read it."""
    labels = definition.get("labels", {})
    found: list[tuple[date, str]] = []
    for key in DEADLINE_KEYS:
        day = parse_date(card.get(key))
        if day:
            found.append((day, str(labels.get(key, key))))
    limit = complaint_limit(card.get("incident_date"))
    if limit:
        found.append((limit, "NHS complaint time limit (12 months from the event)"))
    return [
        {"label": label, "date": day.isoformat(), "shown": show_date(day)}
        for day, label in sorted(found)
    ]


def _reasons(screening_reasons: list[dict[str, Any]]) -> list[str]:
    out = []
    for match in screening_reasons:
        category = str(match.get("category") or "").replace("_", " ")
        phrase = str(match.get("phrase") or "")
        out.append(f"{category}: \u201c{phrase}\u201d" if phrase else category)
    return list(dict.fromkeys(out))


def build(
    data: dict[str, Any],
    templates_dir: Path,
    *,
    org_name: str = "",
    link: str | None = None,
    reasons: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The form for one event (`payload.build`'s dict): what the form templates render.

    Returns a dict with `kind`, `type` (title, law, who), `reference`, `event`, `urgency`,
    `sections` (title + rows of label and value), `deadlines`, `messages`, `details` (the
    extracted fields), `communication` (the needs as phrases) and `warnings` (what must be seen
    first: not safe to contact, safeguarding, communication needs). `reasons` are the
    screening's matches (category, phrase) that raised the urgency; `link` is the referral's page
    on intake's dashboard.
    """
    referral = data["referral"]
    details: dict[str, Any] = dict(referral.get("details") or {})
    spec = definitions(templates_dir)
    kind = advocacy_kind(details)
    definition = spec["types"].get(kind) or spec["types"]["general"]
    labels = spec.get("labels", {})
    card = eligibility_card(details)
    third_party = details.get("referral_for") == "other"
    referrer = details.get("referrer") if isinstance(details.get("referrer"), dict) else {}

    warnings: list[str] = []
    if not referral["safe_to_contact"]:
        warnings.append(
            "NOT SAFE TO CONTACT: the sender said it is not safe to text or ring back. "
            "Do not contact them without checking how."
        )
    if referral["safeguarding"]:
        warnings.append("Safeguarding concerns: " + ", ".join(referral["safeguarding"]) + ".")
    needs = _communication(details)
    if needs:
        warnings.append("Communication needs: " + "; ".join(needs) + ".")
    if referral.get("no_voice_call"):
        warnings.append("NO VOICE CALLS: text, email or video relay only (BSL, deaf or Relay UK).")
    for finding in referral.get("eligibility_precheck") or []:
        warnings.append(f"May be outside the criteria: {finding['why']}")

    person = [
        ("Name", show(details.get("name") or details.get("subject_name"))),
        ("Date of birth", show_date(details["dob"]) if details.get("dob") else NOT_KNOWN),
        ("NHS number", show(details.get("nhs_number"))),
        ("Phone", show(details.get("phone"))),
        ("Email", show(details.get("email"))),
        ("Postcode", show(details.get("postcode"))),
        ("Where they are", show(details.get("setting"))),
    ]
    contact = [
        (
            "Safe to contact",
            "Yes"
            if referral["safe_to_contact"]
            else "NO - do not text or ring back without checking",
        ),
        ("Preferred contact", show(details.get("preferred_contact"))),
        ("Received from", f"{referral['sender']} by {referral['channel']}"),
    ]
    communication = [
        ("Interpreter", show(details.get("interpreter_language"))),
        ("Accessibility needs", show(details.get("accessibility_needs"))),
        ("Language", show(referral.get("language"))),
        ("Write to them in", show(referral.get("language_preference"))),
    ]
    who_referred = [
        ("Referral made by", "someone else" if third_party else "the person themself"),
    ]
    if third_party:
        who_referred += [
            ("Referrer's name", show(referrer.get("name"))),
            ("Relationship or role", show(details.get("relationship") or referrer.get("role"))),
            ("Organisation", show(referrer.get("organisation"))),
            ("Referrer's phone", show(referrer.get("phone"))),
            ("Referrer's email", show(referrer.get("email"))),
        ]
    consent = [
        (
            "Person agrees to the referral",
            "Yes (they asked themselves)" if not third_party else show(details.get("consent")),
        ),
    ]
    eligibility = [
        (str(labels.get(key, key)), _card_value(spec, key, card.get(key)))
        for key in definition.get("eligibility", [])
    ]
    listed = set(definition.get("eligibility", []))
    eligibility += [
        (str(labels.get(key, key)), _card_value(spec, key, value))
        for key, value in card.items()
        if key not in listed
    ]
    urgency = [
        ("Urgency", str(referral["urgency"]).upper()),
        ("Why", "; ".join(_reasons(reasons or [])) or "No risk phrases found"),
        ("Safeguarding", show(referral["safeguarding"] or "None found")),
        ("Needs a person's review", "Yes" if referral.get("needs_review") else "No"),
    ]
    other = [
        (key.replace("_", " ").capitalize(), show(value))
        for key, value in sorted(details.items())
        if key not in SHOWN
    ]
    if details.get("need"):
        other.insert(0, ("What they need", show(details["need"])))

    sections = [
        {"title": "Urgency and safeguarding", "rows": urgency},
        {"title": "The person", "rows": person},
        {"title": "Contact and safety", "rows": contact},
        {"title": "Communication needs", "rows": communication},
        {"title": "Who made the referral", "rows": who_referred},
        {"title": "Consent", "rows": consent},
    ]
    if eligibility:
        sections.append({"title": "Eligibility", "rows": eligibility})
    if other:
        sections.append({"title": "Other details found in the messages", "rows": other})
    return {
        "kind": kind,
        "type": definition,
        "org_name": org_name,
        "reference": referral["reference"],
        "event": data["type"].removeprefix("referral."),
        "event_id": data["id"],
        "urgency": referral["urgency"],
        "received": show_time(referral["received_at"]),
        "status": referral.get("status", ""),
        "details": details,
        "communication": needs,
        "warnings": warnings,
        "sections": sections,
        "deadlines": deadlines(card, spec),
        "messages": [
            {
                "received": show_time(m["received_at"]),
                "channel": m["channel"],
                "sender": m["sender"],
                "body": m["body"],
            }
            for m in referral["messages"]
        ],
        "link": link,
    }


def split_name(name: Any, reference: str) -> tuple[str, str]:
    """(first_name, surname) of a name as written; both "Not known" parts carry the reference,
    so the administrator importing it can find the referral on intake."""
    words = [w for w in str(name or "").split() if w.strip(".").lower() not in _TITLES]
    if not words:
        return "Not known", f"Not known ({reference})"
    if len(words) == 1:
        return words[0], f"Not known ({reference})"
    return " ".join(words[:-1]), words[-1]


def link(settings: Settings, reference: str) -> str | None:
    """The referral's page on intake's dashboard, when intake knows its public address."""
    return f"{settings.public_base_url}/referrals/{reference}" if settings.public_base_url else None


def for_event(settings: Settings, event: ForwardEvent) -> dict[str, Any]:
    """The form of one event, with the screening's reasons and the dashboard link."""
    return build(
        payload.build(event, settings.eligibility_rules),
        settings.templates_dir,
        org_name=settings.org_name,
        link=link(settings, event.referral.reference),
        reasons=list(event.referral.screening.get("matches") or []),
    )


def _communication(details: dict[str, Any]) -> list[str]:
    """The Accessible Information Standard's needs, as short phrases."""
    out = []
    if details.get("interpreter_language"):
        out.append(f"{details['interpreter_language']} interpreter")
    needs = details.get("accessibility_needs")
    if isinstance(needs, str) and needs:
        needs = [needs]
    if isinstance(needs, list):
        out += [str(n) for n in needs if n]
    return out


def text(form: dict[str, Any]) -> str:
    """The form as plain text, for a description field (Charitylog, Lamplight) or a log-free
    summary: headings, aligned rows, then every message in full."""
    lines = [
        f"{form['type']['title']} {form['reference']}"
        + (" (UPDATE)" if form["event"] == "updated" else ""),
        f"Received {form['received']}. Urgency: {str(form['urgency']).upper()}.",
    ]
    lines += form["warnings"]
    for deadline in form["deadlines"]:
        lines.append(f"Deadline: {deadline['label']}: {deadline['shown']}.")
    for section in form["sections"]:
        lines += ["", section["title"].upper()]
        lines += [f"{label}: {value}" for label, value in section["rows"]]
    lines += ["", f"MESSAGES ({len(form['messages'])})"]
    for message in form["messages"]:
        lines += ["", f"{message['received']} by {message['channel']} from {message['sender']}:"]
        lines.append(message["body"] or "(empty message)")
    if form.get("link"):
        lines += ["", f"On intake: {form['link']}"]
    return "\n".join(lines) + "\n"


def csv_row(data: dict[str, Any]) -> dict[str, str]:
    """The event as one row of `CSV_COLUMNS` (text values, ISO dates, `;`-joined lists)."""
    referral = data["referral"]
    details: dict[str, Any] = referral.get("details") or {}
    referrer = details.get("referrer") if isinstance(details.get("referrer"), dict) else {}
    card = eligibility_card(details)

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, (list, tuple)):
            return "; ".join(str(v) for v in value)
        return str(value)

    row = {
        "reference": referral["reference"],
        "event": data["type"].removeprefix("referral."),
        "event_id": data["id"],
        "received_at": referral["received_at"],
        "channel": referral["channel"],
        "sender": referral["sender"],
        "urgency": referral["urgency"],
        "needs_review": referral.get("needs_review"),
        "safeguarding": referral["safeguarding"],
        "safe_to_contact": referral["safe_to_contact"],
        "status": referral.get("status"),
        "advocacy_type": details.get("advocacy_type"),
        "name": details.get("name") or details.get("subject_name"),
        "dob": details.get("dob"),
        "nhs_number": details.get("nhs_number"),
        "phone": details.get("phone"),
        "email": details.get("email"),
        "postcode": details.get("postcode"),
        "setting": details.get("setting"),
        "preferred_contact": details.get("preferred_contact"),
        "interpreter_language": details.get("interpreter_language"),
        "accessibility_needs": details.get("accessibility_needs"),
        "referral_for": details.get("referral_for"),
        "relationship": details.get("relationship"),
        "referrer_name": referrer.get("name"),
        "referrer_role": referrer.get("role"),
        "referrer_organisation": referrer.get("organisation"),
        "referrer_phone": referrer.get("phone"),
        "referrer_email": referrer.get("email"),
        "consent": details.get("consent"),
        **{f"eligibility.{key}": card.get(key) for key in ELIGIBILITY_KEYS},
        "message_count": len(referral["messages"]),
        "messages": "\n\n".join(
            f"[{m['received_at']} {m['channel']} {m['sender']}] {m['body']}"
            for m in referral["messages"]
        ),
        "language": referral.get("language"),
        "language_preference": referral.get("language_preference"),
        "communication_needs": referral.get("communication_needs") or [],
        "no_voice_call": referral.get("no_voice_call", False),
    }
    return {key: _defuse(cell(row[key])) for key in CSV_COLUMNS}


def _defuse(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_bytes(data: dict[str, Any]) -> bytes:
    """A header and one row (RFC 4180: CRLF line ends, quotes doubled), UTF-8 with a BOM so a
    spreadsheet opens Welsh, Polish or Urdu text correctly."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(csv_row(data))
    return out.getvalue().encode("utf-8-sig")
