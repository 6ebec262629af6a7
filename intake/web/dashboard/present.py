"""Pure helpers that turn stored data into what the pages show.

Nothing here touches the database or the request, so the fiddly parts (escaping text around
highlighted matches, flattening extraction output, ages) are tested on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

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


def matched_phrases(text: str, matches: Iterable[Any]) -> list[str]:
    return [text[s:e] for s, e, _ in _spans(matches, len(text))]
