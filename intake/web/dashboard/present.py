"""Pure helpers that turn stored data into what the pages show.

Nothing here touches the database or the request, so the fiddly parts (escaping text around
highlighted matches, flattening extraction output, ages) are tested on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from intake import communication, deadlines, languages
from intake.models import Referral, more_urgent
from intake.sla import human_duration

# (icon under /static, label); the icon is decorative, the label is always shown
CHANNEL_LABELS = {
    "sms": ("sms.svg", "SMS"),
    "email": ("email.svg", "Email"),
    "voice": ("voice.svg", "Voicemail"),
}
SUMMARY_LENGTH = 110
# Extracted fields shown first and in this order; others follow alphabetically.
FIELD_ORDER = (
    "name",
    "phone",
    "email",
    "date_of_birth",
    "address",
    "postcode",
    "referrer_name",
    "referrer_role",
    "relationship",
    "advocacy_type",
    "location",
    "nhs_number",
    "safe_to_contact",
    "preferred_contact",
)


def web_link(value: object) -> str:
    """`value` if it is an absolute http(s) URL that may be put in a link or a player's `src`,
    else "". A stored URL came from outside (a provider's callback, a forged one): `javascript:`,
    `data:` and the like are never rendered as links, whatever the Content-Security-Policy."""
    if not isinstance(value, str):
        return ""
    url = value.strip()
    if any(ord(c) < 0x21 or c in '"<>\\`' for c in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return url


def channel_label(channel: str) -> tuple[str, str]:
    return CHANNEL_LABELS.get(channel, ("sms.svg", channel.title()))


def summary(text: str, length: int = SUMMARY_LENGTH) -> str:
    line = " ".join(text.split())
    return line if len(line) <= length else line[: length - 1].rstrip() + "…"


def age(received_at: datetime, now: datetime) -> str:
    return human_duration(now - received_at) if now > received_at else "just now"


def flat_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """The extracted values, whether stored flat or under `fields` next to `confidence`."""
    inner = document.get("fields")
    values = inner if isinstance(inner, Mapping) else document
    return {
        str(k): v for k, v in values.items() if k not in ("confidence", "fields") and _simple(v)
    }


def _simple(value: Any) -> bool:
    """Scalars and lists of strings are editable as text; nested structures are not."""
    if isinstance(value, list):
        return all(isinstance(x, str) for x in value)
    return not isinstance(value, Mapping)


def ordered_fields(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    def text(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, list):
            return ", ".join(str(x) for x in v)
        return str(v)

    known = [(k, text(values[k])) for k in FIELD_ORDER if k in values]
    rest = [(k, text(values[k])) for k in sorted(values) if k not in FIELD_ORDER]
    return known + rest


def field_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _spans(matches: Iterable[Any], length: int) -> list[tuple[int, int, str]]:
    spans = []
    for match in matches:
        if not isinstance(match, Mapping):
            continue
        try:
            start, end = int(match["start"]), int(match["end"])
        except (KeyError, TypeError, ValueError):
            continue
        start, end = max(0, start), min(length, end)
        if start >= end:
            continue
        label = str(match.get("category") or match.get("kind") or match.get("label") or "")
        spans.append((start, end, label))
    spans.sort()
    merged: list[tuple[int, int, str]] = []
    for start, end, label in spans:
        if merged and start <= merged[-1][1]:
            prev = merged[-1]
            labels = (
                prev[2]
                if label in prev[2].split(", ") or not label
                else (f"{prev[2]}, {label}" if prev[2] else label)
            )
            merged[-1] = (prev[0], max(prev[1], end), labels)
        else:
            merged.append((start, end, label))
    return merged


def highlight(text: str, matches: Iterable[Any]) -> Markup:
    """The text, HTML-escaped, with each screening match wrapped in `<mark>`.

    Offsets index the unescaped text; each slice is escaped on its own, so a match can never
    cut an entity in half and nothing in the message can inject markup.
    """
    out: list[str] = []
    cursor = 0
    for start, end, label in _spans(matches, len(text)):
        out.append(str(escape(text[cursor:start])))
        title = f' title="{escape(label)}"' if label else ""
        out.append(f'<mark class="match"{title}>{escape(text[start:end])}</mark>')
        cursor = end
    out.append(str(escape(text[cursor:])))
    return Markup("".join(out))


CARD_LABELS = {
    "mha_section": "Mental Health Act",
    "detained_on": "Detained on",
    "tribunal_deadline": "Tribunal deadline (s2)",
    "decision_type": "IMCA decision",
    "decision_due": "Decision due",
    "lacks_capacity": "Lacks capacity",
    "has_appropriate_person": "Someone appropriate to consult",
    "lpa": "LPA / deputy",
    "care_act_stage": "Care Act stage",
    "complaint_service": "Complaint about",
    "incident_date": "Incident date",
}
_CARD_DATES = ("detained_on", "tribunal_deadline", "decision_due", "incident_date")


def _card_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if key in _CARD_DATES and isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
        return f"{day:%a} {day.day} {day:%b %Y}"
    if key == "mha_section" and isinstance(value, str) and value[:1].isdigit():
        return f"Section {value}"
    text = str(value).replace("_", " ")
    return {"nhs": "NHS", "CTO": "Community treatment order (CTO)"}.get(text, text.capitalize())


def card_evidence(fields: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{"start", "end", "label"}]``: where each card value was read, for `highlight`."""
    inner = fields.get("fields") if isinstance(fields.get("fields"), Mapping) else fields
    evidence = inner.get("evidence") if isinstance(inner.get("evidence"), Mapping) else {}
    spans = []
    for dotted, span in evidence.items():
        key = str(dotted).removeprefix("eligibility.")
        if key == "tribunal_deadline" or not isinstance(span, list | tuple) or len(span) != 2:
            continue  # the deadline is worked out from the detention date, which is marked
        spans.append({"start": span[0], "end": span[1], "label": CARD_LABELS.get(key, key)})
    return spans


def eligibility_card(fields: Mapping[str, Any], text: str) -> list[dict[str, Any]]:
    """The card as the referral page lists it: label, value, confidence and the words it came
    from (``quote``: the evidence span of ``text``, empty when it falls outside it)."""
    inner = fields.get("fields") if isinstance(fields.get("fields"), Mapping) else fields
    card = inner.get("eligibility") if isinstance(inner.get("eligibility"), Mapping) else {}
    confidence = inner.get("confidence") if isinstance(inner.get("confidence"), Mapping) else {}
    evidence = inner.get("evidence") if isinstance(inner.get("evidence"), Mapping) else {}
    rows = []
    for key in CARD_LABELS:
        if key not in card:
            continue
        span = evidence.get(f"eligibility.{key}")
        quote = ""
        if isinstance(span, list | tuple) and len(span) == 2:
            start, end = int(span[0]), int(span[1])
            if 0 <= start < end <= len(text):
                quote = text[start:end]
        rows.append(
            {
                "key": key,
                "label": CARD_LABELS[key],
                "value": _card_value(key, card[key]),
                "confidence": confidence.get(f"eligibility.{key}"),
                "quote": quote,
            }
        )
    return rows


def matched_phrases(text: str, matches: Iterable[Any]) -> list[str]:
    return [text[s:e] for s, e, _ in _spans(matches, len(text))]


# -- key facts ----------------------------------------------------------------------------------

SETTING_LABELS = {
    "hospital": "Hospital",
    "care_home": "Care home",
    "mental_health": "Mental health unit",
    "community": "At home / community",
    "children": "Children's services",
    "palliative": "End of life care",
    "disability": "Disability service",
}


def key_facts(document: Mapping[str, Any]) -> dict[str, Any]:
    """The safety-critical facts a row and the top of a referral page show, from the extracted
    fields (each None when not known): the person's name, who referred (self or a third party,
    and how they are related), contact details, setting, advocacy type, eligibility."""
    values = flat_fields(document)
    inner = document.get("fields") if isinstance(document.get("fields"), Mapping) else document
    referrer = inner.get("referrer") if isinstance(inner.get("referrer"), Mapping) else {}
    eligibility = inner.get("eligibility") if isinstance(inner.get("eligibility"), Mapping) else {}
    referral_for = values.get("referral_for")
    if referral_for == "self":
        who = "Self-referral"
    elif referral_for == "other":
        relationship = values.get("relationship")
        who = f"Third party ({relationship})" if relationship else "Third party"
    else:
        who = None
    return {
        "name": values.get("subject_name") or values.get("name"),
        "referred_by": who,
        "phone": values.get("phone"),
        "email": values.get("email"),
        "referrer": {k: v for k, v in referrer.items() if isinstance(v, str) and v},
        "setting": SETTING_LABELS.get(str(values.get("setting")), values.get("setting")),
        "advocacy_type": values.get("advocacy_type"),
        "preferred_contact": values.get("preferred_contact"),
        "interpreter_language": values.get("interpreter_language"),
        "accessibility_needs": values.get("accessibility_needs"),
        "eligibility": {
            str(k): v for k, v in eligibility.items() if isinstance(v, str | int | bool)
        },
    }


def deadline_note(
    fields: Mapping[str, Any], urgency: str, today: date, urgent_days: int
) -> dict[str, Any] | None:
    """The referral's nearest coming statutory deadline as the queue and referral page say it:
    ``{"text": "tribunal deadline Thu 3 Dec", "days": 2, "soon": True, "lifts": True,
    "source": ...}``; ``soon`` when within ``urgent_days`` (the deadline makes it at least
    urgent), ``lifts`` when that is above the urgency it has. None without a coming deadline."""
    due = deadlines.nearest(dict(fields), today)
    if due is None:
        return None
    days = (due.on - today).days
    soon = days <= urgent_days
    return {
        "text": due.text(),
        "days": days,
        "soon": soon,
        "lifts": soon and more_urgent(deadlines.URGENT, urgency),
        "source": due.source,
    }


def tel(number: str) -> str:
    """A `tel:` URI for a phone number as stored (E.164 or as written)."""
    return "tel:" + "".join(c for c in str(number) if c.isdigit() or c == "+")


# -- what was sent by email, as a person reads it -------------------------------------------------

SHOWN_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References")


def readable_email(raw: str) -> dict[str, Any] | None:
    """A stored RFC 5322 message as headers and decoded text (quoted-printable and base64
    undone, character sets decoded); None when `raw` is not a message."""
    import email
    import email.policy
    from email.message import EmailMessage

    if not raw or ":" not in raw.split("\n", 1)[0]:
        return None
    try:
        message = email.message_from_string(raw, policy=email.policy.default)
    except Exception:  # a stored body that is not a message is shown as it is
        return None
    if not isinstance(message, EmailMessage) or message.get("Subject") is None:
        return None
    part = message.get_body(preferencelist=("plain", "html"))
    try:
        text = part.get_content() if part is not None else ""
    except (LookupError, ValueError):
        text = ""
    headers = [(name, str(message[name])) for name in SHOWN_HEADERS if message[name] is not None]
    return {
        "subject": str(message["Subject"]),
        "headers": headers,
        "text": str(text).rstrip("\n"),
    }


def sms_segments(text: str) -> int:
    """How many SMS segments a text costs: 160/153 characters in GSM-7, 70/67 in UCS-2 (any
    character outside the GSM 03.38 basic set, such as an emoji or "ŵ"); per 3GPP TS 23.038."""
    gsm = (
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
        "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    extended = "^{}\\[~]|€"
    if all(c in gsm or c in extended for c in text):
        units = sum(2 if c in extended else 1 for c in text)
        return 1 if units <= 160 else -(-units // 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    return 1 if units <= 70 else -(-units // 67)


def language_facts(
    templates_dir: Path, referral: Referral, welsh_standards: bool
) -> dict[str, Any]:
    """What the top of a referral page says about language: the language the messages are in,
    the person's stated preference, and what intake writes to them in (names, not codes)."""
    def name(code: str | None) -> str | None:
        found = languages.language(templates_dir, code)
        return found.name if found else code

    choice = languages.choose(
        templates_dir,
        preference=referral.language_preference,
        detected=referral.language,
        fields=referral.fields,
        welsh_standards=welsh_standards,
    )
    replies_in = " then ".join(str(name(c)) for c in choice.languages())
    if choice.line:
        replies_in += f" (with a line in {name(choice.line)})"
    return {
        "detected": name(referral.language),
        "preference": name(referral.language_preference),
        "replies_in": replies_in,
    }


def communication_needs(
    templates_dir: Path, fields: Mapping[str, Any], language: str | None
) -> list[communication.Need]:
    """The flag's needs: what was said, and an interpreter when they write in another language."""
    found = languages.language(templates_dir, language)
    writes_in = found.name if found and found.code not in ("en", "easy-read") else None
    return communication.needs(fields, writes_in)
