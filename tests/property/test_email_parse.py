"""Property tests for the email parser (`channels.email.parse.parse_email`): it never raises on
any bytes, and a well-formed message's subject and words come back out."""

from __future__ import annotations

from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.parse import parse_email

HEADER_NAMES = ["From", "To", "Subject", "Date", "Message-ID", "Content-Type",
                "Content-Transfer-Encoding", "MIME-Version", "In-Reply-To", "References"]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4000))
def test_any_bytes_parse_without_raising(raw: bytes) -> None:
    parsed = parse_email(raw)
    assert isinstance(parsed.text, str)
    assert isinstance(parsed.defects, list)


header_line = st.tuples(
    st.sampled_from(HEADER_NAMES),
    st.binary(max_size=200).filter(lambda b: b"\n" not in b and b"\r" not in b),
).map(lambda pair: pair[0].encode() + b": " + pair[1])


@settings(max_examples=150, deadline=None)
@given(st.lists(header_line, max_size=12), st.binary(max_size=2000))
def test_any_headers_over_any_body_parse_without_raising(lines: list[bytes], body: bytes) -> None:
    parsed = parse_email(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    assert isinstance(parsed.subject, str)
    assert all(isinstance(address, str) for address in parsed.to)


words = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzéàß", min_size=2, max_size=12), min_size=1,
    max_size=40,
)
subjects = st.text(
    alphabet=st.characters(whitelist_categories=["L", "N", "Zs"], max_codepoint=0x2FFF),
    max_size=80,
)


@settings(max_examples=100, deadline=None)
@given(subject=subjects, body_words=words)
def test_a_well_formed_message_keeps_its_subject_and_words(
    subject: str, body_words: list[str]
) -> None:
    message = EmailMessage()
    message["From"] = "Sam Carer <sam.carer@example.org.uk>"
    message["To"] = "referrals@advocacy.example.org.uk"
    message["Subject"] = subject
    message["Message-ID"] = "<ref-test-1@example.org.uk>"
    message.set_content(" ".join(body_words))
    parsed = parse_email(message.as_bytes())
    assert " ".join(parsed.subject.split()) == " ".join(subject.split())
    assert parsed.from_address == "sam.carer@example.org.uk"
    assert parsed.message_id is not None and "ref-test-1@example.org.uk" in parsed.message_id
    recovered = " ".join(" ".join((parsed.text, parsed.quoted, parsed.signature)).split())
    for word in body_words:
        assert word in recovered
