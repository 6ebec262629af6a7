"""Payload bytes to text: charset decoding, and text extraction from PDF and DOCX referral forms.

Referral forms arrive as attachments; screening and extraction must see their text, so it is pulled
out here. Attachments are hostile input from the internet: every extractor is bounded (input size,
pages, characters) and returns ``None`` plus a defect rather than raising.
"""

from __future__ import annotations

import codecs
import io
import logging
import zipfile
from collections.abc import Callable

# Bounds: referral forms are a few pages; anything beyond these limits is not read.
MAX_EXTRACT_BYTES = 20 * 1024 * 1024
MAX_PDF_PAGES = 30
MAX_TEXT_CHARS = 100_000
MAX_DOCX_XML_BYTES = 30 * 1024 * 1024

_LATIN1_FAMILY = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "iso_8859-1", "cp819"}
_ASCII_FAMILY = {"us-ascii", "ascii", "ansi_x3.4-1968", "646", "us"}

PDF_TYPES = {"application/pdf", "application/x-pdf", "application/acrobat"}
DOCX_TYPES = {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
TEXT_TYPES = {"text/plain", "text/csv", "text/markdown", "text/rtf", "text/rfc822-headers"}


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


def _kind(filename: str, content_type: str, data: bytes) -> str | None:
    name = filename.lower()
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
    if content_type in TEXT_TYPES or name.endswith((".txt", ".csv")):
        return "text"
    return None


def extract_text(
    filename: str, content_type: str, data: bytes, charset: str | None = None
) -> tuple[str | None, list[str]]:
    """Text of an attachment (PDF, DOCX, plain text) and any defects; ``None`` for other types.

    Never raises: a broken or oversized file gives ``None`` and a defect naming the file.
    """
    kind = _kind(filename, content_type.lower(), data)
    if kind is None:
        return None, []
    if len(data) > MAX_EXTRACT_BYTES:
        return None, [f"attachment {filename!r}: {len(data)} bytes, too large to extract text"]
    if kind == "text":
        text, note = decode_text(data, charset)
        return _cap(text), ([f"attachment {filename!r}: {note}"] if note else [])
    extractor: Callable[[bytes], str] = _pdf_text if kind == "pdf" else _docx_text
    try:
        text = extractor(data)
    except Exception as exc:  # any parser failure on hostile input is a defect, not a crash
        return None, [
            f"attachment {filename!r}: {kind} text extraction failed ({type(exc).__name__})"
        ]
    text = _cap(text).strip()
    return (text or None), ([] if text else [f"attachment {filename!r}: no text found in {kind}"])
