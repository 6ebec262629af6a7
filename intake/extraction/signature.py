"""Signature blocks: the sender's own name, role, organisation and contact details.

A professional's email ends "Kind regards, Jane Smith, Social Worker, Anytown Council,
01632 960123". Those details are the referrer's, never the client's, so the block is split off
the body before anything else looks for phone numbers, emails or names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from intake.extraction import linear
from intake.extraction.contacts import find_emails, find_phones
from intake.extraction.vocab import compiled, load

_INLINE = r"(?:^|[.!?]\s+|\n)\s*(?P<closing>(?i:%s))\s*[,.!]?\s+(?P<rest>\p{Lu}[^\n]{1,59})\s*$"
_ROLE_IN_BRACKETS = linear.compile(r"\(([A-Za-z ]{2,30})\)")
_LIST_SEPARATOR = linear.compile(r"[,|]")
_NAME = linear.compile(
    r"^(?:(?:Dr|Mr|Mrs|Ms|Miss)\.?\s+)?\p{Lu}[\p{L}\p{M}.'’-]*(?:\s+\p{Lu}[\p{L}\p{M}.'’-]*){0,3}$"
)


@dataclass(frozen=True)
class Signature:
    """What a signature block says about its writer."""

    name: str | None = None
    role: str | None = None
    organisation: str | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    bracket_note: str | None = None
    lines: tuple[str, ...] = field(default=())


def split(text: str) -> tuple[str, str]:
    """(body, signature text). The signature starts at the last closing line near the end."""
    closings = load("signature")["closings"]
    lines = text.rstrip().split("\n")
    line_re = compiled(rf"^\s*{closings}\s*[,.!]?\s*(.*)$")
    for index in range(len(lines) - 1, max(-1, len(lines) - 13), -1):
        match = line_re.match(lines[index])
        rest = match.group(1).strip() if match else ""
        if match and (rest[:1].isupper() or (not rest and index < len(lines) - 1)):
            tail = [rest] if rest else []
            body = "\n".join(lines[:index])
            return body, "\n".join(tail + lines[index + 1 :])
    inline = compiled(_INLINE % closings, 0).search(text)
    if inline:
        return text[: inline.start("closing")].rstrip(), inline.group("rest")
    return text, ""


def role_of(text: str) -> str | None:
    """The relationship a professional role implies ("Staff Nurse" -> "nurse")."""
    for role in load("relationships")["roles"]:
        if compiled(role["pattern"], linear.IGNORECASE | linear.MULTILINE).search(text):
            return str(role["value"])
    return None


def _split_name_note(line: str) -> tuple[str, str | None]:
    note = _ROLE_IN_BRACKETS.search(line)
    if note:
        return line[: note.start()].strip(" ,-"), note.group(1).strip()
    return line.strip(" ,-"), None


def parse(block: str) -> Signature | None:
    """Read a signature block; None when it is empty."""
    lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
    if not lines:
        return None
    first, note = _split_name_note(lines[0])
    parts = [p.strip() for p in first.split(",") if p.strip()]
    name = parts[0] if parts and _NAME.match(parts[0]) else None
    rest_lines = parts[1:] + lines[1:] if name else parts + lines[1:]
    role_text = " \n".join([*rest_lines, note or "", name or ""])
    role = role_of(role_text)
    org_re = compiled(load("signature")["organisation"])
    organisation = None
    for line in rest_lines:
        for piece in (p.strip() for p in _LIST_SEPARATOR.split(line)):
            if not piece or find_phones(piece) or find_emails(piece) or "@" in piece:
                continue
            if org_re.search(piece) and not role_of(piece):
                organisation = piece
                break
        if organisation:
            break
    return Signature(
        name=name,
        role=role,
        organisation=organisation,
        phones=tuple(h.value for h in find_phones(block)),
        emails=tuple(h.value for h in find_emails(block)),
        bracket_note=note,
        lines=tuple(lines),
    )
