"""Property tests: parse_email and classify never raise, whatever the bytes."""

from __future__ import annotations

from datetime import UTC

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email.autoreply import KINDS, classify
from channels.email.parse import Attachment, ParsedEmail, parse_email

from .conftest import fixture_bytes, load_expected

NAMES = sorted(load_expected())
# Small fixtures only: mutating the 600 KB DOCX ones would spend the budget on base64 noise.
SMALL = [name for name in NAMES if len(fixture_bytes(name)) < 20_000]


def _check(parsed: ParsedEmail) -> None:
    assert isinstance(parsed, ParsedEmail)
    assert isinstance(parsed.text, str) and isinstance(parsed.quoted, str)
    assert isinstance(parsed.signature, str) and isinstance(parsed.subject, str)
    assert all(isinstance(d, str) for d in parsed.defects)
    assert all(isinstance(a, Attachment) and a.size == len(a.data) for a in parsed.attachments)
    assert parsed.date is None or parsed.date.tzinfo == UTC
    assert isinstance(parsed.full_text(), str)
    for envelope in (None, "", "a@example.org"):
        assert classify(parsed, envelope).kind in KINDS


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(raw: bytes) -> None:
    _check(parse_email(raw))


_HEADERISH = st.lists(
    st.sampled_from(
        [
            b"Content-Type: multipart/mixed; boundary=b\r\n",
            b'Content-Type: multipart/alternative; boundary="b"\r\n',
            b"Content-Type: text/html; charset=x-unknown\r\n",
            b"Content-Transfer-Encoding: base64\r\n",
            b"Content-Transfer-Encoding: quoted-printable\r\n",
            b"Subject: =?utf-8?B?////?= =?bogus?Q?=ZZ?=\r\n",
            b'From: "\xff\xfe" <@>\r\n',
            b"Date: Mon, 99 Foo 20251 99:99:99 +9999\r\n",
            b"\r\n",
            b"--b\r\n",
            b"--b--\r\n",
            b"Content-Type: message/rfc822\r\n",
            b"Content-Disposition: attachment; filename*=bad''%ZZ\r\n",
            b"Content-Type: application/pdf\r\n",
        ]
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_HEADERISH, st.binary(max_size=512))
def test_mime_shaped_junk(lines: list[bytes], tail: bytes) -> None:
    _check(parse_email(b"".join(lines) + tail))


@st.composite
def mutated_fixture(draw: st.DrawFn) -> bytes:
    raw = bytearray(fixture_bytes(draw(st.sampled_from(SMALL))))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        if not raw:
            break
        position = draw(st.integers(min_value=0, max_value=len(raw) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        if action == "flip":
            raw[position] = draw(st.integers(min_value=0, max_value=255))
        elif action == "insert":
            raw[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del raw[position : position + draw(st.integers(min_value=1, max_value=64))]
        elif action == "truncate":
            del raw[position:]
        else:
            raw[position:position] = raw[position : position + 200]
    return bytes(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_fixture())
def test_mutated_fixtures(raw: bytes) -> None:
    _check(parse_email(raw))


def test_deeply_nested_multiparts() -> None:
    depth = 400
    head = b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
        for i in range(depth)
    )
    raw = b"From: a@example.org\r\n" + head + b"Content-Type: text/plain\r\n\r\ndeep referral\r\n"
    parsed = parse_email(raw)
    _check(parsed)
    assert "deep referral" in parsed.text or parsed.defects


def test_deeply_nested_attached_messages() -> None:
    raw = b"Content-Type: text/plain\r\n\r\ninnermost\r\n"
    for _ in range(200):
        raw = b"Content-Type: message/rfc822\r\n\r\n" + raw
    _check(parse_email(b"From: a@example.org\r\n" + raw))
