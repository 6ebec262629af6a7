"""Payload bytes to text: charset decoding, and the text of referral forms and letters.

Referral forms arrive as attachments (email, MMS); screening and extraction must see their text, so
it is pulled out here: PDF (pypdf), DOCX (python-docx), RTF (striprtf), HTML (html2text), plain
text, and Outlook's TNEF (`winmail.dat`, tnefparse), whose inner files and message body are read
too. Attachments are hostile input: every reader is bounded (input size, pages, characters) and
returns ``None`` plus a defect rather than raising; the parsers run in a child process with limits
(`intake.documents.sandbox`), never in the worker that stores the message. Decoding plain text
(`decode_text`) is linear and stays where it is needed.
"""

from __future__ import annotations

import codecs
import io
import logging
import mimetypes
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

from intake.models import Attachment

# Bounds: referral forms are a few pages; anything beyond these limits is not read.
MAX_EXTRACT_BYTES = 20 * 1024 * 1024
MAX_PDF_PAGES = 30
MAX_TEXT_CHARS = 100_000
MAX_DOCX_XML_BYTES = 30 * 1024 * 1024

_LATIN1_FAMILY = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "iso_8859-1", "cp819"}
_ASCII_FAMILY = {"us-ascii", "ascii", "ansi_x3.4-1968", "646", "us"}

PDF_TYPES = {"application/pdf", "application/x-pdf", "application/acrobat"}
DOCX_TYPES = {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
TEXT_TYPES = {"text/plain", "text/csv", "text/markdown", "text/rfc822-headers", "text/vcard",
              "text/x-vcard", "text/calendar"}
RTF_TYPES = {"text/rtf", "application/rtf", "application/x-rtf", "text/richtext"}
HTML_TYPES = {"text/html", "application/xhtml+xml"}
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
# Kinds whose reader is a parser (could be made slow or large by its input): the sandbox's.
SANDBOXED = frozenset({"pdf", "docx", "rtf", "html", "tnef"})
MAX_TNEF_FILES = 50
MAX_TNEF_DEPTH = 3  # a message attached inside a winmail.dat, inside another


@dataclass(frozen=True)
class Reading:
    """What a file says: its text (None when it has none we can read), notes on what went wrong,
    and the files inside it (a winmail.dat's attachments, each read in turn)."""

    text: str | None
    notes: list[str] = field(default_factory=list)
    parts: list[Attachment] = field(default_factory=list)


def _codec_name(charset: str) -> str | None:
    try:
        info = codecs.lookup(charset)
    except (LookupError, TypeError, ValueError):
        return None
    return info.name


def decode_text(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode bytes whose declared charset may be missing, unknown or wrong.

    Returns the text and a defect note when the declaration could not be trusted. ISO-8859-1 is read
    as Windows-1252 (as browsers do), because Outlook labels curly quotes and the euro sign as
    Latin-1; UTF-8 wins over a Latin-1 label when the bytes are valid multi-byte UTF-8.
    """
    charset = (declared or "").strip().strip('"').lower().split("*", 1)[0]
    note: str | None = None
    is_utf8 = True
    try:
        as_utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        is_utf8 = False
        as_utf8 = ""
    if not charset or charset in _ASCII_FAMILY:
        if is_utf8:
            return as_utf8, None
        return _cp1252_or_latin1(data), f"8-bit bytes under charset {charset or 'none'}"
    codec = _codec_name(charset)
    if codec is None:
        if is_utf8:
            return as_utf8, f"unknown charset {charset!r}; decoded as utf-8"
        return _cp1252_or_latin1(data), f"unknown charset {charset!r}; decoded as windows-1252"
    if charset in _LATIN1_FAMILY or codec in {"latin-1", "cp1252"}:
        if is_utf8 and any(b >= 0x80 for b in data):
            return as_utf8, f"charset {charset} mislabelled; bytes are utf-8"
        return _cp1252_or_latin1(data), None
    if codec == "utf-8":
        if is_utf8:
            return as_utf8, None
        return _cp1252_or_latin1(data), "charset utf-8 mislabelled; decoded as windows-1252"
    try:
        return data.decode(codec), None
    except (UnicodeDecodeError, LookupError, ValueError, TypeError):
        note = f"bytes invalid for charset {charset!r}"
    if is_utf8:
        return as_utf8, note
    return _cp1252_or_latin1(data), note


def _cp1252_or_latin1(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _cap(text: str) -> str:
    text = text.replace("\x00", "")
    return text[:MAX_TEXT_CHARS]


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise ValueError("encrypted PDF")
    chunks: list[str] = []
    total = 0
    for index, page in enumerate(reader.pages):
        if index >= MAX_PDF_PAGES or total >= MAX_TEXT_CHARS:
            break
        chunk = page.extract_text() or ""
        chunks.append(chunk)
        total += len(chunk)
    return "\n".join(chunks)


def _docx_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        # python-docx reads the whole document part into memory: refuse zip bombs first.
        total = sum(info.file_size for info in archive.infolist())
        if total > MAX_DOCX_XML_BYTES:
            raise ValueError(f"DOCX expands to {total} bytes")
    import docx

    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    total_chars = 0
    for paragraph in document.paragraphs:
        lines.append(paragraph.text)
        total_chars += len(paragraph.text)
        if total_chars >= MAX_TEXT_CHARS:
            return "\n".join(lines)
    for table in document.tables:
        for row in table.rows:
            cells: list[str] = []
            for cell in row.cells:
                value = cell.text.strip()
                if value and (not cells or cells[-1] != value):  # merged cells repeat
                    cells.append(value)
            line = "  ".join(cells)
            lines.append(line)
            total_chars += len(line)
            if total_chars >= MAX_TEXT_CHARS:
                return "\n".join(lines)
    return "\n".join(lines)


def kind_of(filename: str, content_type: str, data: bytes) -> str | None:
    """Which reader a file needs: pdf, docx, text, rtf, html, tnef, or None (no text in it)."""
    name = filename.lower()
    content_type = content_type.lower()
    if content_type in TNEF_TYPES or name == "winmail.dat" or data[:4] == b"\x78\x9f\x3e\x22":
        return "tnef"
    if content_type in RTF_TYPES or name.endswith(".rtf") or data[:5] == b"{\\rtf":
        return "rtf"
    if content_type in HTML_TYPES or name.endswith((".html", ".htm")):
        return "html"
    if (
        content_type in PDF_TYPES
        or name.endswith(".pdf")
        or data[:1024].lstrip().startswith(b"%PDF-")
    ):
        return "pdf"
    if content_type in DOCX_TYPES or name.endswith(".docx"):
        return "docx"
    if data[:4] == b"PK\x03\x04" and b"word/document.xml" in data[:4096]:
        return "docx"
    if content_type in TEXT_TYPES or name.endswith((".txt", ".csv", ".vcf")):
        return "text"
    return None


def needs_sandbox(filename: str, content_type: str, data: bytes) -> bool:
    """Whether a file's text must be read by a parser, in the sandbox (plain text need not)."""
    return kind_of(filename, content_type, data) in SANDBOXED


def _rtf_text(data: bytes) -> str:
    from striprtf.striprtf import rtf_to_text

    return str(rtf_to_text(data.decode("latin-1"), errors="ignore"))


def _html_text(data: bytes) -> str:
    import html2text

    converter = html2text.HTML2Text()
    converter.ignore_links = True
    converter.ignore_images = True
    converter.body_width = 0
    return str(converter.handle(decode_text(data, None)[0]))


def _tnef(data: bytes, depth: int = 0) -> Reading:
    """A winmail.dat: its message body (plain, else HTML, else RTF) and its inner files.

    Exchange sends it as an attachment of a "Rich Text" message, or as the whole message; either
    way the files a person attached are inside, where a mail client without TNEF shows nothing.
    """
    from tnefparse import TNEF

    tnef = TNEF(data, do_checksum=False)
    notes: list[str] = []
    body: str | None = None
    if tnef.body:
        raw = tnef.body
        body = raw if isinstance(raw, str) else decode_text(bytes(raw), None)[0]
    elif tnef.htmlbody:
        raw = tnef.htmlbody
        html = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        body = _html_text(html)
    elif tnef.has_body():
        rtf = tnef.rtfbody
        if isinstance(rtf, bytes | bytearray):
            body = _rtf_text(bytes(rtf))
    parts: list[Attachment] = []
    for index, inner in enumerate(tnef.attachments, start=1):
        if index > MAX_TNEF_FILES:
            notes.append(f"winmail.dat: only the first {MAX_TNEF_FILES} files kept")
            break
        content = bytes(inner.data or b"")
        name = _tnef_name(inner, index)
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        embedded = getattr(inner, "embed", None)
        if embedded is not None and depth < MAX_TNEF_DEPTH:
            ctype, name = "application/ms-tnef", f"{name or 'message'}.tnef"
        reading = read(name, ctype, content, depth=depth + 1)
        notes.extend(reading.notes)
        parts.append(Attachment(name, ctype, len(content), content, reading.text))
        parts.extend(reading.parts)
    return Reading(_cap(body).strip() if body else None, notes, parts)


def _tnef_name(inner: object, index: int) -> str:
    try:
        name = str(inner.long_filename() or "")  # type: ignore[attr-defined]
    except UnicodeDecodeError:  # an 8-bit title in the message's code page (Outlook: cp1252)
        raw = getattr(inner, "_name", b"")
        name = decode_text(raw, "cp1252")[0] if isinstance(raw, bytes) else str(raw)
    except Exception:  # a malformed name attribute: the file still counts
        name = ""
    name = name.replace("\x00", "")
    name = "".join(ch for ch in name.replace("\\", "/").split("/")[-1] if ch.isprintable())
    return name.strip().strip(".")[:200] or f"winmail-file-{index}.bin"


def read(
    filename: str, content_type: str, data: bytes, charset: str | None = None, *, depth: int = 0
) -> Reading:
    """What one file says, with any files inside it (see `Reading`). Never raises."""
    kind = kind_of(filename, content_type, data)
    if kind != "tnef":
        text, notes = extract_text(filename, content_type, data, charset)
        return Reading(text, notes)
    if len(data) > MAX_EXTRACT_BYTES:
        return Reading(None, [f"attachment {filename!r}: {len(data)} bytes, too large to read"])
    try:
        return _tnef(data, depth)
    except Exception as exc:  # a broken winmail.dat is a defect; the file itself is kept
        return Reading(None, [f"attachment {filename!r}: TNEF not readable ({type(exc).__name__})"])


def extract_text(
    filename: str, content_type: str, data: bytes, charset: str | None = None
) -> tuple[str | None, list[str]]:
    """Text of an attachment (PDF, DOCX, plain text) and any defects; ``None`` for other types.

    Never raises: a broken or oversized file gives ``None`` and a defect naming the file.
    """
    kind = kind_of(filename, content_type, data)
    if kind is None or kind == "tnef":
        return None, []
    if len(data) > MAX_EXTRACT_BYTES:
        return None, [f"attachment {filename!r}: {len(data)} bytes, too large to extract text"]
    if kind == "text":
        text, note = decode_text(data, charset)
        return _cap(text), ([f"attachment {filename!r}: {note}"] if note else [])
    readers: dict[str, Callable[[bytes], str]] = {
        "pdf": _pdf_text,
        "docx": _docx_text,
        "rtf": _rtf_text,
        "html": _html_text,
    }
    extractor = readers[kind]
    try:
        text = extractor(data)
    except Exception as exc:  # any parser failure on hostile input is a defect, not a crash
        return None, [
            f"attachment {filename!r}: {kind} text extraction failed ({type(exc).__name__})"
        ]
    text = _cap(text).strip()
    return (text or None), ([] if text else [f"attachment {filename!r}: no text found in {kind}"])
