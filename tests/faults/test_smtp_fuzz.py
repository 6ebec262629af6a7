"""A bounded fuzz run over MIME: malformed headers, deep and broken multiparts, huge lines, bad
encodings, sent over SMTP to the real aiosmtpd server. None of it may crash the server: every
message gets an SMTP answer, what was accepted is on the queue, and a normal referral email is
still accepted afterwards."""

from __future__ import annotations

import base64
import random
import smtplib
from collections.abc import Callable, Iterator

import pytest
from aiosmtpd.controller import Controller
from rq import Queue

from channels.email.server import make_controller
from intake.queue import queue_name
from intake.runtime import Runtime
from tests.support.servers import free_port

RCPT = "referrals@advocacy.example.org.uk"
SENDER = "worried.neighbour@example.org.uk"
CASES = 60
NORMAL = (
    b"From: Pat Neighbour <worried.neighbour@example.org.uk>\r\n"
    b"To: referrals@advocacy.example.org.uk\r\n"
    b"Subject: Advocacy for my neighbour\r\n"
    b"Message-ID: <normal-after-fuzz@example.org.uk>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"My neighbour Mr Okafor has dementia and the council want to move him to a home.\r\n"
)


@pytest.fixture
def smtp(runtime: Runtime) -> Iterator[tuple[Controller, int]]:
    port = free_port()
    settings = runtime.settings.with_(smtp_port=port, smtp_data_size_limit=2 * 1024 * 1024)
    controller = make_controller(runtime, settings)
    controller.start()
    yield controller, port
    controller.stop()


def _headers(rng: random.Random) -> bytes:
    lines = [b"From: " + rng.choice([b"a@b", b"<>", b"\xff\xfe@\x00", b"=?utf-8?B?!!!?= <x@y>"])]
    for _ in range(rng.randint(0, 8)):
        lines.append(
            rng.choice(
                [
                    b"Subject: =?utf-8?Q?broken=ZZ?= =?koi8-r?B?"
                    + b"A" * rng.randint(1, 50)
                    + b"?=",
                    b"Subject: " + bytes(rng.randrange(128, 256) for _ in range(40)),
                    b"X-No-Colon-Here",
                    b": empty name",
                    b"Date: 31 Feb 99999 25:61:61 +9999",
                    b"To: ,,,<<>>@@,\"unterminated",
                    b"Message-ID: <<<>>>",
                    b"Content-Type: text/plain; charset=\"x-no-such-charset\"",
                    b"Content-Transfer-Encoding: base64",
                    b"Content-Transfer-Encoding: x-uuencode-ish",
                    b" continuation without a header",
                    b"X-Long: " + b"h" * rng.randint(900, 990),
                    b"References: " + b" ".join(b"<%d@x>" % i for i in range(rng.randint(1, 80))),
                ]
            )
        )
    return b"\r\n".join(lines) + b"\r\n"


def _nested(rng: random.Random, depth: int) -> bytes:
    boundary = b"b%d" % depth
    if depth == 0:
        return b"Content-Type: text/plain\r\n\r\nI need help with a care assessment.\r\n"
    kind = rng.choice([b"mixed", b"alternative", b"related", b"digest"])
    inner = _nested(rng, depth - 1)
    close = rng.choice([b"--" + boundary + b"--\r\n", b"", b"--wrong-boundary--\r\n"])
    return (
        b"Content-Type: multipart/" + kind + b"; boundary=\"" + boundary + b"\"\r\n\r\n"
        b"preamble\r\n--" + boundary + b"\r\n" + inner + b"\r\n" + close
    )


def _bad_body(rng: random.Random) -> bytes:
    return rng.choice(
        [
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b"!!!not base64===\r\n" * 5,
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=0=1=2 soft=\r\n",
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + b"\xc3\x28\xa0\xa1\xff" * 50,
            b"Content-Type: text/html\r\n\r\n<html><body><p>unclosed <b><i>" * 30,
            b"Content-Type: application/pdf; name=referral.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode(b"%PDF-1.4 truncated garbage " * 20),
            b"Content-Type: message/rfc822\r\n\r\nFrom: x\r\nContent-Type: multipart/mixed\r\n\r\n",
        ]
    )


def _huge_line(rng: random.Random) -> bytes:
    return b"Subject: long\r\n\r\n" + b"z" * rng.choice([2000, 50_000, 400_000]) + b"\r\n"


GENERATORS: list[Callable[[random.Random], bytes]] = [
    lambda rng: _headers(rng) + b"\r\n" + b"Please help my sister, she is detained on a ward.\r\n",
    lambda rng: _headers(rng) + _nested(rng, rng.choice([1, 3, 10, 60])),
    lambda rng: _headers(rng) + _bad_body(rng),
    _huge_line,
    lambda rng: bytes(rng.randrange(256) for _ in range(rng.randint(0, 3000))),
]


def fuzzed_messages() -> Iterator[bytes]:
    rng = random.Random(9)  # deterministic: a failure is reproducible
    for i in range(CASES):
        yield GENERATORS[i % len(GENERATORS)](rng)


def _send(port: int, raw: bytes) -> int:
    """Send one message on its own connection; the SMTP answer code to DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        try:
            client.sendmail(SENDER, [RCPT], raw)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code
        except smtplib.SMTPResponseException as exc:
            return exc.smtp_code
        return 250


def _queued(runtime: Runtime) -> int:
    return sum(
        Queue(queue_name(runtime.settings, p), connection=runtime.redis).count
        for p in ("high", "default")
    )


@pytest.mark.slow
def test_fuzzed_mime_never_crashes_the_smtp_server(
    runtime: Runtime, smtp: tuple[Controller, int]
) -> None:
    _controller, port = smtp
    answers = [_send(port, raw) for raw in fuzzed_messages()]
    assert len(answers) == CASES
    assert set(answers) <= {250, 451, 500, 552, 554}, answers
    assert answers.count(250) >= CASES // 2  # most garbage is still accepted, to be looked at
    assert _queued(runtime) == answers.count(250)  # nothing accepted was dropped

    assert _send(port, NORMAL) == 250  # and the server still takes a normal referral
    assert _queued(runtime) == answers.count(250) + 1


def test_one_connection_survives_a_bad_message_then_sends_a_good_one(
    runtime: Runtime, smtp: tuple[Controller, int]
) -> None:
    _controller, port = smtp
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        for raw in (_huge_line(random.Random(1)), b"\x00\xff" * 500, NORMAL):
            try:
                client.sendmail(SENDER, [RCPT], raw)
            except smtplib.SMTPDataError as exc:
                assert exc.smtp_code in (500, 552)
        assert client.noop()[0] == 250
