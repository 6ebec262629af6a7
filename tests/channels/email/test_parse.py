"""parse_email over the fixture corpus (expected.json), plus unit tests of the pieces."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from channels.email.attachments import MAX_PDF_PAGES, decode_text, extract_text
from channels.email.html import html_to_text
from channels.email.parse import ParsedEmail, parse_email, split_body
from channels.email.receive import quoted_reference

from .conftest import FIXTURES, fixture_bytes, load_expected, read_files

EXPECTED = load_expected()
NAMES = sorted(EXPECTED)


def test_corpus_is_complete() -> None:
    on_disk = sorted(p.name for p in FIXTURES.glob("*.eml"))
    assert on_disk == NAMES
    assert len(NAMES) >= 32


@pytest.fixture(scope="module")
def parsed() -> dict[str, ParsedEmail]:
    return {name: read_files(parse_email(fixture_bytes(name))) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_headers(name: str, parsed: dict[str, ParsedEmail]) -> None:
    exp, p = EXPECTED[name], parsed[name]
    for key in ("subject", "from_address", "from_name", "message_id", "in_reply_to", "reply_to"):
        if key in exp:
            assert getattr(p, key) == exp[key], key
    if "references" in exp:
        assert p.references == exp["references"]
    if "date" in exp:
        expected_date = None if exp["date"] is None else datetime.fromisoformat(exp["date"])
        assert p.date == expected_date
    if p.date is not None:
        assert p.date.tzinfo is not None and p.date.utcoffset() == UTC.utcoffset(None)
    assert "<" not in (p.message_id or "") and all("<" not in r for r in p.references)


def _assert_phrases(haystack: str, phrases: list[str], present: bool, what: str) -> None:
    for phrase in phrases:
        assert (phrase in haystack) is present, (
            f"{what}: {phrase!r} {'missing' if present else 'present'}"
        )


@pytest.mark.parametrize("name", NAMES)
def test_text_quotes_signature(name: str, parsed: dict[str, ParsedEmail]) -> None:
    exp, p = EXPECTED[name], parsed[name]
    _assert_phrases(p.text, exp.get("text_contains", []), True, "text")
    _assert_phrases(p.text, exp.get("text_excludes", []), False, "text")
    _assert_phrases(p.quoted, exp.get("quoted_contains", []), True, "quoted")
    _assert_phrases(p.signature, exp.get("signature_contains", []), True, "signature")
    _assert_phrases(p.full_text(), exp.get("full_text_contains", []), True, "full_text")
    _assert_phrases(p.full_text(), exp.get("full_text_excludes", []), False, "full_text")
    if "quoted" in exp:
        assert p.quoted == exp["quoted"]
    assert p.text == p.text.strip("\n")
    assert "\r" not in p.text


@pytest.mark.parametrize("name", NAMES)
def test_reference(name: str, parsed: dict[str, ParsedEmail]) -> None:
    p = parsed[name]
    assert quoted_reference(p.subject, p.text) == EXPECTED[name].get("reference")


@pytest.mark.parametrize("name", NAMES)
def test_attachments(name: str, parsed: dict[str, ParsedEmail]) -> None:
    exp, p = EXPECTED[name], parsed[name]
    got = [[a.filename, a.content_type] for a in p.attachments]
    # a winmail.dat's inner files follow it once it has been read (intake.documents)
    assert got == exp.get("attachments", []) + exp.get("inner_files", [])
    by_name = {a.filename: a for a in p.attachments}
    for filename, phrases in exp.get("attachment_text", {}).items():
        attachment = by_name[filename]
        assert attachment.size == len(attachment.data) > 0
        if phrases is None:
            assert attachment.text is None
        else:
            assert attachment.text is not None
            _assert_phrases(attachment.text, phrases, True, filename)
            assert f"[Attachment: {filename}]" in p.full_text()


@pytest.mark.parametrize("name", NAMES)
def test_defects(name: str, parsed: dict[str, ParsedEmail]) -> None:
    exp, p = EXPECTED[name], parsed[name]
    joined = "\n".join(p.defects)
    _assert_phrases(joined, exp.get("defects_contain", []), True, "defects")
    if exp.get("defects_nonempty"):
        assert p.defects


def test_clean_message_has_no_defects(parsed: dict[str, ParsedEmail]) -> None:
    assert parsed["01_plain_family_referral.eml"].defects == []


def test_plain_preferred_over_html(parsed: dict[str, ParsedEmail]) -> None:
    p = parsed["03_multipart_alternative_social_worker.eml"]
    assert "0113 496 0214" in p.signature  # only the plain part has the phone number
    assert p.attachments == []


def test_selected_headers(parsed: dict[str, ParsedEmail]) -> None:
    listed = parsed["41_mailing_list.eml"].headers
    assert listed["Precedence"] == "list"
    assert listed["List-Id"].startswith("Advocacy providers network")
    assert "List-Unsubscribe" in listed and "List-Post" in listed
    ooo = parsed["31_ooo_outlook_automatic_reply.eml"].headers
    assert ooo["Auto-Submitted"] == "auto-replied" and ooo["Return-Path"] == "<>"
    dsn = parsed["37_bounce_postfix_dsn.eml"].headers
    assert "report-type=delivery-status" in dsn["Content-Type"]
    assert "X-Junk" not in parsed["28_eight_bit_header_junk.eml"].headers


# --- find_reference ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        ("Re: Your referral [REF-7K2Q9D]", "", "REF-7K2Q9D"),
        ("", "quote ref-7k2q9d please", "REF-7K2Q9D"),
        ("REF-7K2Q9D", "REF-M4P7WZ", "REF-7K2Q9D"),  # subject wins
        ("REF-7K2Q9", "", None),  # too short
        ("REF-7K2Q9DX", "", None),  # too long
        ("REF-1K2Q9D", "", None),  # 1 is not in the alphabet
        ("REF-OK2Q9D", "", None),  # nor O
        ("REF-LK2Q9D", "", None),  # nor L (i, l, o, u, 0, 1 are excluded)
        ("XREF-7K2Q9D", "", None),
        ("(REF-7K2Q9D).", "", "REF-7K2Q9D"),
        ("", "", None),
    ],
)
def test_quoted_reference(subject: str, text: str, expected: str | None) -> None:
    assert quoted_reference(subject, text) == expected


# --- charsets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "charset", "expected", "noted"),
    [
        ("café £5".encode(), "utf-8", "café £5", False),
        ("café £5".encode("latin-1"), "iso-8859-1", "café £5", False),
        ("it\u2019s \u20ac5".encode("cp1252"), "iso-8859-1", "it\u2019s \u20ac5", False),
        ("it\u2019s".encode("cp1252"), "utf-8", "it\u2019s", True),
        ("Zoë".encode(), "iso-8859-1", "Zoë", True),
        ("Zoë".encode(), "x-klingon", "Zoë", True),
        (b"caf\xe9", None, "café", True),
        (b"plain", "us-ascii", "plain", False),
        (b"\x81\x8d", "windows-1252", "\x81\x8d", False),
        ("Привет".encode("koi8-r"), "koi8-r", "Привет", False),
    ],
)
def test_decode_text(data: bytes, charset: str | None, expected: str, noted: bool) -> None:
    text, note = decode_text(data, charset)
    assert text == expected
    assert (note is not None) is noted


def test_decode_text_refuses_non_text_codecs() -> None:
    text, _note = decode_text(b"eJzLSM3JyQcABiwCFQ==", "base64")
    assert text == "eJzLSM3JyQcABiwCFQ=="


# --- HTML ---------------------------------------------------------------------------------------


def test_html_to_text_is_readable() -> None:
    html = (
        "<style>p{color:red}</style><script>steal()</script><p>First line<br>Second line</p>"
        "<ul><li>one</li><li>two</li></ul><table><tr><td>Name</td><td>Ann</td></tr></table>"
        "<blockquote>old</blockquote><p>&pound;5 &amp; more</p>"
    )
    text = html_to_text(html)
    assert "steal" not in text and "color" not in text
    assert "First line\nSecond line" in text
    assert "* one" in text and "* two" in text
    assert "Name" in text and "Ann" in text and "NameAnn" not in text
    assert "> old" in text
    assert "£5 & more" in text


def test_html_to_text_empty() -> None:
    assert html_to_text("") == ""


# --- quotes and signatures ------------------------------------------------------------------------


def test_split_body_mid_message_thanks_is_not_a_signature() -> None:
    body = (
        "Hi,\nThanks\nMy mother was moved to a care home last week without anyone asking her "
        "what she wanted and the manager will not let me see her care plan.\n"
        "She needs an advocate urgently.\n"
        "Sarah"
    )
    text, quoted, signature = split_body(body)
    assert "needs an advocate urgently" in text
    assert quoted == "" and signature == ""


def test_split_body_inline_name_valediction() -> None:
    text, _quoted, signature = split_body("Please call me back.\n\nThanks, Sarah")
    assert text == "Please call me back."
    assert signature == "Thanks, Sarah"


def test_split_body_bottom_posting_keeps_new_text() -> None:
    body = "On Mon, 2 Jun 2025, Intake wrote:\n> Can we visit on Tuesday?\n\nTuesday is fine."
    text, quoted, _signature = split_body(body)
    assert text == "Tuesday is fine."
    assert "> Can we visit on Tuesday?" in quoted


def test_split_body_forward_is_content() -> None:
    body = "FYI\n\n-----Original Message-----\nFrom: A\nSent: today\nTo: B\n\nReferral text here"
    text, quoted, _signature = split_body(body, forwarded=True)
    assert "Referral text here" in text and quoted == ""


# --- attachments ---------------------------------------------------------------------------------


def test_pdf_extraction_is_page_bounded() -> None:
    sys.path.insert(0, str(FIXTURES))
    from _builders import make_pdf

    pdf = make_pdf([[f"page marker {i:03d}"] for i in range(MAX_PDF_PAGES + 5)])
    text, defects = extract_text("long.pdf", "application/pdf", pdf)
    assert text is not None and defects == []
    assert f"page marker {MAX_PDF_PAGES - 1:03d}" in text
    assert f"page marker {MAX_PDF_PAGES:03d}" not in text


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        ("x.pdf", "application/pdf", b"%PDF-1.4\n garbage"),
        ("x.pdf", "application/pdf", b""),
        ("x.docx", "application/octet-stream", b"PK\x03\x04 not really a zip"),
        (
            "x.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            b"\x00" * 50,
        ),
    ],
)
def test_broken_documents_give_none_and_a_defect(
    filename: str, content_type: str, data: bytes
) -> None:
    text, defects = extract_text(filename, content_type, data)
    assert text is None
    assert defects and filename in defects[0]


def test_images_have_no_text() -> None:
    assert extract_text("a.png", "image/png", b"\x89PNG....") == (None, [])


def test_pdf_sniffed_from_octet_stream() -> None:
    sys.path.insert(0, str(FIXTURES))
    from _builders import make_pdf

    text, _defects = extract_text("scan", "application/octet-stream", make_pdf([["sniffed"]]))
    assert text == "sniffed"


def test_full_text_labels_attachments() -> None:
    p = read_files(parse_email(fixture_bytes("04_pdf_referral_form.eml")))
    full = p.full_text()
    assert full.startswith(p.text)
    assert full.index("[Attachment: IMHA referral - T Barker.pdf]") > len(p.text)


def _shape(p: Any) -> None:
    assert isinstance(p, ParsedEmail)
    assert isinstance(p.text, str) and isinstance(p.defects, list)


@pytest.mark.parametrize(
    "raw", [b"", b"\r\n\r\n", b"\x00" * 100, b"Content-Type: multipart/mixed\r\n\r\n--"]
)
def test_degenerate_inputs(raw: bytes) -> None:
    _shape(parse_email(raw))


def test_signature_search_reads_a_tail_of_closings_once() -> None:
    """Thousands of "Thanks" lines followed by text: each used to re-read everything after it
    (quadratic). Only the last lines can open a signature, so only they are tried."""
    text = "Thanks\n" * 50_000 + "\n".join(f"line {i}" for i in range(21))
    new, _quoted, signature = split_body(text)
    assert signature == ""
    assert new.endswith("line 20")
