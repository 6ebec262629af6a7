"""Raw email bytes to a structured message: headers, new text, quotes, signature, attachments.

The worker hands every accepted message to :func:`parse_email`. Mail from the internet is often
malformed (broken boundaries, wrong charsets, bad base64, 8-bit headers), and a referral must never
be lost because of that, so parsing degrades gracefully: problems are recorded in ``defects`` and
the best available text is returned. Nothing here raises on bad input.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import email.utils
import functools
import mimetypes
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from importlib import resources
from typing import Any

from channels.email.attachments import decode_text, extract_text, needs_sandbox
from channels.email.html import html_to_text
from intake.models import Attachment

__all__ = ["Attachment", "ParsedEmail", "parse_email", "patterns", "split_body"]

MAX_BODY_CHARS = 1_000_000
MAX_ATTACHMENTS = 100
MAX_DEPTH = 20
MAX_DEFECTS = 50
MAX_HEADER_CHARS = 2_000
MAX_REFERENCES = 100
MAX_LINE_SCAN = 1_000  # quote and signature rules only look at the start of a line

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_WS = re.compile(r"\s+")
_FOLD = re.compile(r"\r?\n[ \t]")
_MANY_BLANKS = re.compile(r"\n{3,}")
_REPORT_PARTS = {"message/delivery-status", "message/disposition-notification"}
_GENERIC_TYPES = {"application/octet-stream", "application/binary", "application/x-download"}


@dataclass(frozen=True)
class ParsedEmail:
    """A message reduced to what intake needs; see the module docstring for the guarantees."""

    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    subject: str
    from_address: str | None
    from_name: str | None
    to: list[str]
    date: datetime | None
    reply_to: str | None
    text: str
    quoted: str
    signature: str
    attachments: list[Attachment]
    headers: dict[str, str]
    defects: list[str]

    def full_text(self) -> str:
        """New text plus attachment texts, labelled by file name: what screening should read.

        Quotes and signatures are left out on purpose: quoted acknowledgements and NHS disclaimers
        would otherwise trigger screening rules on words the sender did not write now.
        """
        parts = [self.text] if self.text else []
        for attachment in self.attachments:
            if attachment.text:
                parts.append(f"[Attachment: {attachment.filename}]\n{attachment.text}")
        return "\n\n".join(parts)


@functools.cache
def patterns() -> dict[str, Any]:
    """The lexicons in patterns.toml (shared with the auto-reply classifier)."""
    source = resources.files("channels.email").joinpath("patterns.toml")
    return tomllib.loads(source.read_text(encoding="utf-8"))


@functools.cache
def _compiled(section: str, key: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.I) for p in patterns()[section][key])


class _Defects:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, note: str) -> None:
        if note not in self.items and len(self.items) < MAX_DEFECTS:
            self.items.append(note)


# --- headers -----------------------------------------------------------------------------------


def _unescape_8bit(value: str) -> str:
    """Headers with raw 8-bit bytes (RFC 6532 or junk) arrive as surrogate escapes: decode them."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    return decode_text(data, "utf-8")[0]


def _decode_b(payload: str) -> bytes:
    """Lenient base64: drop junk characters and a dangling final character, fix the padding."""
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload.split("=", 1)[0])
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned)
    except (binascii.Error, ValueError):
        return payload.encode("utf-8", "replace")


def _decode_q(payload: str) -> bytes:
    data = payload.replace("_", " ").encode("utf-8", "replace")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), data)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words leniently (unknown charsets, bad padding, split characters)."""
    pieces: list[tuple[str | None, bytes | str]] = []
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        previous_encoded = bool(pieces) and pieces[-1][0] is not None
        if between and not (between.isspace() and previous_encoded):
            pieces.append((None, between))
        charset, encoding, payload = match.groups()
        charset = charset.lower().split("*", 1)[0]
        data = _decode_b(payload) if encoding in "bB" else _decode_q(payload)
        last = pieces[-1] if pieces else None
        if last is not None and last[0] == charset and isinstance(last[1], bytes):
            pieces[-1] = (charset, last[1] + data)  # a character may be split across two words
        else:
            pieces.append((charset, data))
        pos = match.end()
    pieces.append((None, value[pos:]))
    out: list[str] = []
    for charset, chunk in pieces:
        out.append(decode_text(chunk, charset)[0] if isinstance(chunk, bytes) else chunk)
    return "".join(out)


def _raw_header(msg: Message, name: str) -> str | None:
    wanted = name.lower()
    try:
        for key, value in msg.raw_items():
            if key.lower() == wanted:
                text = _FOLD.sub(" ", _unescape_8bit(str(value)))
                return text.replace("\r", " ").replace("\n", " ").strip()[:MAX_HEADER_CHARS]
    except Exception:
        return None
    return None


def _text_header(msg: Message, name: str) -> str | None:
    raw = _raw_header(msg, name)
    return None if raw is None else _WS.sub(" ", decode_words(raw)).strip()


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    raw = _raw_header(msg, name)
    if not raw:
        return []
    try:
        pairs = email.utils.getaddresses([raw])
    except Exception:
        pairs = []
    result: list[tuple[str, str]] = []
    for display, address in pairs:
        address = address.strip().strip("<>").lower()
        if not address:
            continue
        result.append((_WS.sub(" ", decode_words(display)).strip(), address))
    if (
        not result and "@" in raw
    ):  # getaddresses refused it: take the first thing that looks like one
        match = re.search(r"[^\s<>\"',;:]+@[^\s<>\"',;:]+", raw)
        if match:
            result.append(("", match.group(0).lower()))
    return result


def _msg_ids(value: str | None) -> list[str]:
    if not value:
        return []
    ids = _MSG_ID.findall(value)
    if not ids:
        ids = [token.strip("<>") for token in value.split() if "@" in token]
    seen: list[str] = []
    for item in ids:
        if item and item not in seen:
            seen.append(item)
    return seen[:MAX_REFERENCES]


def _date(value: str | None, defects: _Defects) -> datetime | None:
    if not value:
        defects.add("no Date header")
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.add("unparseable Date header")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        defects.add("unparseable Date header")
        return None


def _selected_headers(msg: Message) -> dict[str, str]:
    keep = {name.lower(): name for name in patterns()["headers"]["keep"]}
    selected: dict[str, str] = {}
    try:
        items = list(msg.raw_items())
    except Exception:
        return selected
    for key, _value in items:
        lower = key.lower()
        if lower in keep:
            canonical = keep[lower]
        elif lower.startswith("list-"):
            canonical = "-".join(word.capitalize() for word in key.split("-"))
        else:
            continue
        if canonical not in selected:
            value = _text_header(msg, key)
            selected[canonical] = value or ""
    return selected


# --- bodies ------------------------------------------------------------------------------------


def _is_attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment"
    except Exception:
        return False


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


_UUENCODED = {"x-uuencode", "uuencode", "x-uue", "uue"}


def _uudecode(text: str) -> bytes | None:
    """A uuencoded payload, with or without its `begin`/`end` lines; None if it is not one.

    The standard library decodes x-uuencode only when the `begin 644 name` line is there, and
    otherwise hands back the encoded text, which would then be screened as words.
    """
    out = bytearray()
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("begin ") or stripped == "end":
            continue
        if stripped == "`":  # the zero-length line before `end`
            continue
        try:
            out += binascii.a2b_uu(line.rstrip("\r\n"))
        except binascii.Error:
            try:  # some encoders drop trailing spaces a line's length byte counts on
                out += binascii.a2b_uu(line.rstrip("\r\n") + " " * 4)
            except binascii.Error:
                return None
    return bytes(out)


def _undecodable_uuencode(part: Message) -> bool:
    """A part that says x-uuencode but is not (its bytes are junk, never to be read as text)."""
    try:
        encoding = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
        payload = part.get_payload()
    except Exception:
        return False
    return encoding in _UUENCODED and isinstance(payload, str) and _uudecode(payload) is None


def _part_bytes(part: Message) -> bytes:
    try:
        encoding = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
        if encoding in _UUENCODED:
            raw_payload = part.get_payload()
            if isinstance(raw_payload, str):
                decoded = _uudecode(raw_payload)
                if decoded is not None:
                    return decoded
        payload = part.get_payload(decode=True)
        if any(type(d).__name__ == "InvalidBase64LengthDefect" for d in part.defects):
            # The stdlib gives back the undecoded text when it cannot fix the length: salvage it.
            raw_payload = part.get_payload()
            if isinstance(raw_payload, str):
                payload = _decode_b(raw_payload)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload
    return b""


def _part_text(part: Message, defects: _Defects) -> str:
    data = _part_bytes(part)
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text, note = decode_text(data, charset)
    if note:
        defects.add(note)
    return text


def _find_body(msg: Message, kind: str) -> Message | None:
    try:
        if isinstance(msg, EmailMessage):
            return msg.get_body(preferencelist=(kind,))
    except Exception:
        return None
    return None


def _first_text_part(msg: Message) -> Message | None:
    """Fallback when get_body finds nothing (odd structures): any inline text part will do."""
    try:
        for part in msg.walk():
            if part.get_content_maintype() == "text" and not _is_attachment(part):
                return part
    except Exception:
        return None
    return None


def _body(msg: Message, defects: _Defects) -> tuple[str, list[Message]]:
    """The body text (plain preferred, HTML converted) and the parts used for it."""
    plain = _find_body(msg, "plain")
    html = _find_body(msg, "html")
    used: list[Message] = []
    text = ""
    if plain is not None:
        text = _part_text(plain, defects)
        used.append(plain)
    if not text.strip() and html is not None:
        text = html_to_text(_part_text(html, defects))
        used.append(html)
    if plain is not None and html is not None and html not in used:
        used.append(html)  # the alternative we did not use is not an attachment either
    if not used:
        part = _first_text_part(msg)
        if part is not None:
            raw_text = _part_text(part, defects)
            text = html_to_text(raw_text) if _content_type(part) == "text/html" else raw_text
            used.append(part)
    return _clean(text, defects), used


def _clean(text: str, defects: _Defects) -> str:
    if len(text) > MAX_BODY_CHARS:
        defects.add(f"body truncated to {MAX_BODY_CHARS} characters")
        text = text[:MAX_BODY_CHARS]
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _MANY_BLANKS.sub("\n\n", text).strip("\n")


# --- quotes and signatures ---------------------------------------------------------------------


def _matches(rules: tuple[re.Pattern[str], ...], line: str) -> bool:
    return any(rule.search(line) for rule in rules)


def _is_forward_marker(line: str) -> bool:
    return _matches(_compiled("forward", "marker_lines"), line.strip()[:MAX_LINE_SCAN])


def _quote_start(lines: list[str]) -> int | None:
    headers = _compiled("quote", "header_lines")
    attributions = _compiled("quote", "attribution")
    outlook_from = re.compile(patterns()["quote"]["outlook_from"], re.I)
    followers = _compiled("quote", "outlook_followers")
    for index, line in enumerate(lines):
        stripped = line.strip()[:MAX_LINE_SCAN]
        if not stripped or stripped.startswith(">"):
            continue
        if _matches(headers, stripped) or _matches(attributions, stripped):
            return index
        if index + 1 < len(lines):
            joined = f"{stripped} {lines[index + 1].strip()[:MAX_LINE_SCAN]}"
            if stripped.lower().startswith(("on ", "am ", "le ")) and _matches(
                attributions, joined
            ):
                return index
        if outlook_from.search(stripped):
            window = [ln.strip()[:MAX_LINE_SCAN] for ln in lines[index + 1 : index + 7]]
            if sum(1 for ln in window if _matches(followers, ln)) >= 2:
                return index
    return None


def _split_quotes(lines: list[str], forwarded: bool) -> tuple[list[str], list[str]]:
    if forwarded:
        return lines, []
    cut = _quote_start(lines)
    head = lines if cut is None else lines[:cut]
    tail = [] if cut is None else lines[cut:]
    if cut is not None and not any(line.strip() for line in head) and tail:
        # Bottom-posting: the attribution comes first and the reply is written below the quote.
        head, tail = tail[1:], [tail[0]]
    new: list[str] = []
    quoted: list[str] = []
    for line in head:
        (quoted if line.lstrip().startswith(">") else new).append(line)
    return new, quoted + tail


def _valediction_at(lines: list[str], index: int) -> bool:
    settings = patterns()["signature"]
    line = lines[index].strip()[:MAX_LINE_SCAN]
    core = line.rstrip(",.!-– ").strip()
    rules = _compiled("signature", "valedictions")
    if not any(rule.fullmatch(core) for rule in rules):
        head, comma, name = line.partition(",")
        words = name.split()
        if not (
            comma
            and any(rule.fullmatch(head.strip()) for rule in rules)
            and 0 < len(words) <= settings["inline_name_max_words"]
            and all(word[:1].isupper() for word in words)
        ):
            return False
    after = [ln.strip() for ln in lines[index + 1 :] if ln.strip()]
    if len(after) > settings["max_lines_after_valediction"]:
        return False
    if after:
        name = after[0]
        if len(name) > settings["name_max_chars"] or len(name.split()) > settings["name_max_words"]:
            return False
        if name.endswith("?"):
            return False
    return True


def _signature_start(lines: list[str]) -> int | None:
    settings = patterns()["signature"]
    starts: list[int] = []
    for index, line in enumerate(lines):
        if line in ("-- ", "--", "—"):
            starts.append(index)
            break
    non_empty = [i for i, line in enumerate(lines) if line.strip()]
    devices = _compiled("signature", "device_lines")
    for index in non_empty[-settings["device_line_window"] :]:
        if _matches(devices, lines[index].strip()[:MAX_LINE_SCAN]):
            starts.append(index)
            break
    # A valediction opens a signature only with at most `max_lines_after_valediction` non-empty
    # lines after it, so only the last few can: looking further back re-read the whole tail for
    # every line (quadratic: 8,000 "Thanks" lines took a second, 50,000 half a minute).
    for index in reversed(non_empty[-(settings["max_lines_after_valediction"] + 1) :]):
        if _valediction_at(lines, index):
            starts.append(index)
            break
    return min(starts) if starts else None


def split_body(text: str, forwarded: bool = False) -> tuple[str, str, str]:
    """Split body text into (new text, quoted earlier messages, signature).

    A forwarded message is content (a GP forwarding a referral), so nothing in it is treated as
    quoted, and the signature is only looked for above the forwarded part.
    """
    lines = text.split("\n")
    marker = next((i for i, line in enumerate(lines) if _is_forward_marker(line)), None)
    forwarded = forwarded or marker is not None
    new, quoted = _split_quotes(lines, forwarded)
    signature: list[str] = []
    limit = marker if marker is not None else len(new)
    start = _signature_start(new[:limit])
    if start is not None:
        signature = new[start:limit]
        new = new[:start] + new[limit:]
    return (
        _MANY_BLANKS.sub("\n\n", "\n".join(new)).strip("\n"),
        "\n".join(quoted).strip("\n"),
        "\n".join(signature).strip("\n"),
    )


# --- attachments -------------------------------------------------------------------------------


def _safe_filename(name: str | None, content_type: str, index: int) -> str:
    if name:
        name = _unescape_8bit(decode_words(str(name)))
        name = re.split(r"[\\/]", name)[-1]
        name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    if not name:
        extension = mimetypes.guess_extension(content_type) or (
            ".txt" if content_type.startswith("text/") else ".bin"
        )
        if content_type == "message/rfc822":
            extension = ".eml"
        name = f"attachment-{index}{extension}"
    return name[:200]


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        try:
            value = part.get_param("name")
            name = value if isinstance(value, str) else None
        except Exception:
            name = None
    return name


def _inner_message_text(part: Message, defects: _Defects) -> tuple[bytes, str | None]:
    """An attached email (message/rfc822): its bytes and a short readable rendering."""
    try:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
    except Exception:
        inner = None
    if not isinstance(inner, Message):
        data = _part_bytes(part)
        return data, None
    try:
        data = inner.as_bytes()
    except Exception:
        data = b""
    text, _used = _body(inner, defects)
    header_lines = [
        f"{name}: {value}"
        for name in ("From", "Date", "Subject")
        if (value := _text_header(inner, name))
    ]
    rendered = "\n".join([*header_lines, "", text]).strip()
    return data, rendered or None


def _leaf_attachments(msg: Message, used: list[Message], depth: int = 0) -> list[Message]:
    if depth > MAX_DEPTH:
        return []
    found: list[Message] = []
    ctype = _content_type(msg)
    if any(msg is part for part in used) or ctype in _REPORT_PARTS:
        return found
    if ctype == "message/rfc822" and depth > 0:
        return [msg]
    if msg.is_multipart():
        try:
            children = list(msg.iter_parts()) if isinstance(msg, EmailMessage) else []
        except Exception:
            children = []
        for child in children:
            child_type = _content_type(child)
            alternative = ctype == "multipart/alternative"
            if alternative and child_type.startswith("text/") and not _is_attachment(child):
                continue
            found.extend(_leaf_attachments(child, used, depth + 1))
        return found
    # A single-part message that is not its body (a lone PDF, a whole-message winmail.dat) is
    # its own attachment: the file and its text must not be lost with the missing body.
    if ctype in ("text/plain", "text/html") and not _is_attachment(msg) and not _filename(msg):
        return found  # inline text beside the body (signature fragments, footers)
    return [msg]


def _attachments(msg: Message, used: list[Message], defects: _Defects) -> list[Attachment]:
    try:
        parts = _leaf_attachments(msg, used)
    except RecursionError:
        defects.add("message nested too deeply")
        parts = []
    if len(parts) > MAX_ATTACHMENTS:
        defects.add(f"only the first {MAX_ATTACHMENTS} of {len(parts)} attachments kept")
        parts = parts[:MAX_ATTACHMENTS]
    result: list[Attachment] = []
    for index, part in enumerate(parts, start=1):
        ctype = _content_type(part)
        filename = _safe_filename(_filename(part), ctype, index)
        if ctype in _GENERIC_TYPES:
            # Declared as opaque bytes: the file name tells the dashboard more.
            ctype = mimetypes.guess_type(filename)[0] or ctype
        if ctype == "message/rfc822":
            data, text = _inner_message_text(part, defects)
        else:
            data = _part_bytes(part)
            try:
                charset = part.get_content_charset()
            except Exception:
                charset = None
            if _undecodable_uuencode(part):
                defects.add(f"attachment {filename!r}: x-uuencode not decodable; kept as sent")
                result.append(Attachment(filename, ctype, len(data), data, None))
                continue
            if needs_sandbox(filename, ctype, data):
                # Read later, by a parser in a sandboxed job (intake.documents), never here.
                result.append(Attachment(filename, ctype, len(data), data, None, unread=True))
                continue
            text, notes = extract_text(filename, ctype, data, charset)
            for note in notes:
                defects.add(note)
        result.append(Attachment(filename, ctype, len(data), data, text))
    return result


# --- entry point -------------------------------------------------------------------------------


def _package_defects(msg: Message, defects: _Defects) -> None:
    try:
        for part in msg.walk():
            for defect in getattr(part, "defects", []):
                defects.add(type(defect).__name__)
    except Exception:
        defects.add("message structure could not be walked")


def _is_forwarded(subject: str) -> bool:
    prefixes = patterns()["forward"]["subject_prefixes"]
    head = subject.strip().lower()
    return any(re.match(prefix, head) for prefix in prefixes)


_BOUNDARY_LINE = re.compile(r"^--([0-9A-Za-z'()+_,./:=?-]{1,70}?)(--)?[ \t\r]*$", re.M)


def _recover_unsplit(msg: Message, defects: _Defects) -> Message:
    """A multipart whose declared boundary never occurs: re-split on the boundary actually used.

    Some senders (and broken gateways) rewrite the boundary in the header but not in the body. The
    parser then keeps the whole body as one string and the referral text would be lost.
    """
    try:
        if msg.get_content_maintype() != "multipart" or not isinstance(msg.get_payload(), str):
            return msg
        payload = str(msg.get_payload())
    except Exception:
        return msg
    match = _BOUNDARY_LINE.search(payload)
    if match is None:
        defects.add("multipart without any boundary; body kept as plain text")
        text_part = email.message_from_string(
            "Content-Type: text/plain\n\n" + payload, policy=email.policy.default
        )
        return text_part
    boundary = match.group(1)
    defects.add(f"multipart boundary not found; re-split on {boundary!r}")
    head = f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'.encode("ascii")
    body = payload.encode("utf-8", "surrogateescape")
    return email.message_from_bytes(head + body, policy=email.policy.default)


def _parse(raw: bytes, defects: _Defects) -> ParsedEmail:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    _package_defects(msg, defects)
    content = _recover_unsplit(msg, defects)
    message_ids = _msg_ids(_raw_header(msg, "Message-ID"))
    if not message_ids:
        defects.add("no Message-ID header")
    in_reply_to = _msg_ids(_raw_header(msg, "In-Reply-To"))
    senders = _addresses(msg, "From") or _addresses(msg, "Sender")
    if not senders:
        defects.add("no usable From address")
    reply_to = _addresses(msg, "Reply-To")
    subject = _text_header(msg, "Subject") or ""
    body, used = _body(content, defects)
    text, quoted, signature = split_body(body, forwarded=_is_forwarded(subject))
    return ParsedEmail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_msg_ids(_raw_header(msg, "References")),
        subject=subject,
        from_address=senders[0][1] if senders else None,
        from_name=(senders[0][0] or None) if senders else None,
        to=[address for _name, address in _addresses(msg, "To")],
        date=_date(_raw_header(msg, "Date"), defects),
        reply_to=reply_to[0][1] if reply_to else None,
        text=text,
        quoted=quoted,
        signature=signature,
        attachments=_attachments(content, used, defects),
        headers=_selected_headers(msg),
        defects=defects.items,
    )


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse raw RFC 5322 bytes; never raises. Problems are listed in ``defects``."""
    defects = _Defects()
    if not isinstance(raw, bytes | bytearray | memoryview):
        defects.add(f"input was {type(raw).__name__}, not bytes")
        raw = str(raw).encode("utf-8", "surrogateescape")
    raw = bytes(raw)
    try:
        return _parse(raw, defects)
    except Exception as exc:  # last resort: keep the words even if the structure is hopeless
        defects.add(f"parser failure ({type(exc).__name__}); raw bytes kept as text")
        text = _clean(decode_text(raw[:MAX_BODY_CHARS], None)[0], defects)
        return ParsedEmail(
            message_id=None,
            in_reply_to=None,
            references=[],
            subject="",
            from_address=None,
            from_name=None,
            to=[],
            date=None,
            reply_to=None,
            text=text,
            quoted="",
            signature="",
            attachments=[],
            headers={},
            defects=defects.items,
        )
