"""The contract every channel's door keeps, as one table run against every channel.

In the style of Courier's `IncomingTestCase` tables: each row of `CONTRACT` says what a person
says, what happens at the door (a genuine delivery, a forged one, a redelivery, Redis stopping)
and what must come of it (the door's answers, referrals, acknowledgements). A small harness per
channel (`Sms`, `Email`, `Voice`) exposes the same operations, so one runner reads every row for
every channel, end to end: the real door on a real socket (the Starlette app for Twilio's
webhooks, intake's aiosmtpd server for mail), real Redis, a real RQ worker, the store, and the
Twilio stand-in and recording relay for what goes back to the sender.

What a channel needs that the others do not is hidden in its harness: a voicemail is the incoming
call, the recording and the transcription callbacks; email has no signature, so its door's
refusal of a forgery is mail for an address intake does not serve, refused at RCPT.
"""

from __future__ import annotations

import email.policy
import itertools
import secrets
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from rq import Queue

import channels
from intake import runtime as runtime_module
from intake.config import Settings
from intake.models import Referral
from intake.queue import PRIORITIES, queue_name
from intake.runtime import Runtime
from intake.web.app import create_app
from tests.channels.email.smtp_support import INTAKE_ADDRESS, RecordingRelay, intake_smtp
from tests.channels.voice.calls import Call
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from tests.faults.support import RedisServer
from tests.support.servers import free_port, serve
from tests.support.twilio_signing import post_signed, sign
from tests.support.twilio_standin import TwilioStandIn
from worker import build_worker

# What people say. Screened the same on every channel: routine and safe to contact; urgent and
# not safe to contact (whoever reads the person's phone must not see a reply).
ROUTINE = (
    "Hello, I would like some help from an advocate with my dad's care review next month. "
    "Thank you."
)
DO_NOT_CONTACT = (
    "Please don't text or call me back, he checks my phone. I need help with a care assessment "
    "for my mum."
)

# What a door may answer, in words; each harness says what they are on its wire.
ACCEPTED, REFUSED, RETRY_LATER = "accepted", "refused", "retry later"


# -- the steps a row is made of -------------------------------------------------------------------


@dataclass(frozen=True)
class Deliver:
    """The sender delivers the row's message (the same one every time: a redelivery)."""

    expect: str


@dataclass(frozen=True)
class Forge:
    """Someone else delivers it, in every forged form the channel knows."""

    expect: str = REFUSED


@dataclass(frozen=True)
class Work:
    """A real RQ worker drains the queues (burst, in-process)."""


@dataclass(frozen=True)
class RedisDown:
    """The Redis the door queues on stops answering."""


@dataclass(frozen=True)
class RedisBack:
    """It is back (same port, same append-only file)."""


@dataclass(frozen=True)
class Expect:
    """A check part-way: jobs this test's doors have made, referrals stored."""

    jobs: int | None = None
    referrals: int | None = None


Step = Deliver | Forge | Work | RedisDown | RedisBack | Expect


@dataclass(frozen=True)
class ContractCase:
    """One row: what is said, what happens, what must come of it."""

    label: str
    says: str
    steps: tuple[Step, ...]
    referrals: int
    acknowledgements: int
    safe_to_contact: bool | None = None
    own_redis: bool = False  # the door queues on a Redis of the test's own, which it can stop


CONTRACT = (
    ContractCase(
        "forged is refused",
        says=ROUTINE,
        steps=(Forge(REFUSED), Expect(jobs=0), Work()),
        referrals=0,
        acknowledgements=0,
    ),
    ContractCase(
        "redelivery is deduplicated",
        says=ROUTINE,
        steps=(Deliver(ACCEPTED), Deliver(ACCEPTED), Work(), Deliver(ACCEPTED), Work()),
        referrals=1,
        acknowledgements=1,
    ),
    ContractCase(
        "Redis down means the sender retries",
        says=ROUTINE,
        steps=(
            RedisDown(),
            Deliver(RETRY_LATER),
            RedisBack(),
            Expect(jobs=0),
            Work(),
            Expect(referrals=0),
            Deliver(ACCEPTED),  # the sender's retry
            Work(),
        ),
        referrals=1,
        acknowledgements=1,
        own_redis=True,
    ),
    ContractCase(
        "acknowledgement planned",
        says=ROUTINE,
        steps=(Deliver(ACCEPTED), Work()),
        referrals=1,
        acknowledgements=1,
        safe_to_contact=True,
    ),
    ContractCase(
        "acknowledgement skipped: do not contact",
        says=DO_NOT_CONTACT,
        steps=(Deliver(ACCEPTED), Work()),
        referrals=1,
        acknowledgements=0,
        safe_to_contact=False,
    ),
)

# (channel, label) -> why the row fails for that channel because of a bug in production code.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


# -- the harnesses ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a door said to one request: where (a webhook, an SMTP command) and the code."""

    at: str
    code: int


@dataclass
class Door:
    """One channel door open on a real socket, queuing on `runtime`'s Redis."""

    runtime: Runtime
    address: Any  # a base URL (Twilio webhooks), or the Settings the SMTP server listens with
    redis: RedisServer | None = None


class Harness:
    """The operations every channel exposes to the contract."""

    name: ClassVar[str]
    reply_channel: ClassVar[str]
    answers: ClassVar[dict[str, Answer]]

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request
        self.runtime: Runtime = request.getfixturevalue("runtime")
        self.twilio: TwilioStandIn = request.getfixturevalue("twilio")

    # the door
    def main_door(self) -> Door:
        raise NotImplementedError

    def open_door(self, runtime: Runtime) -> Any:
        """A context manager: this channel's door on `runtime`, yielding its address."""
        raise NotImplementedError

    # the sender
    def message(self, says: str) -> Any:
        raise NotImplementedError

    def deliver(self, door: Door, message: Any) -> list[Answer]:
        raise NotImplementedError

    def forge(self, door: Door, message: Any) -> list[Answer]:
        raise NotImplementedError

    def acknowledgements(self, message: Any) -> list[str]:
        """The text of every acknowledgement the sender got, on the channel it came from."""
        raise NotImplementedError

    def everything_sent(self) -> int:
        """How many messages went out to anyone at all."""
        return len(self.twilio.messages)


class TwilioHarness(Harness):
    """What SMS and voice share: signed form posts to webhooks on the live app."""

    answers: ClassVar[dict[str, Answer]] = {
        ACCEPTED: Answer("webhook", 200),
        REFUSED: Answer("webhook", 403),
        RETRY_LATER: Answer("webhook", 503),
    }

    def __init__(self, request: pytest.FixtureRequest) -> None:
        super().__init__(request)
        self.http: httpx.Client = request.getfixturevalue("http")
        self.live_url: str = request.getfixturevalue("live_url")

    def main_door(self) -> Door:
        return Door(self.runtime, self.live_url)

    def open_door(self, runtime: Runtime) -> Any:
        return serve(create_app(runtime))

    def callbacks(self, message: Any) -> list[tuple[str, dict[str, str]]]:
        """(path, form) of every webhook Twilio calls for this message, in order."""
        raise NotImplementedError

    def deliver(self, door: Door, message: Any) -> list[Answer]:
        answers = []
        for path, form in self.callbacks(message):
            response = post_signed(self.http, door.address + path, form, AUTH_TOKEN)
            answers.append(Answer("webhook", response.status_code))
        return answers

    def forge(self, door: Door, message: Any) -> list[Answer]:
        """No signature; a signature made with another account's token; a signed form whose
        body was changed on the way."""
        answers = []
        for path, form in self.callbacks(message):
            url = door.address + path
            forgeries = [
                {},
                {"X-Twilio-Signature": sign("not-" + AUTH_TOKEN, url, form)},
            ]
            for headers in forgeries:
                response = self.http.post(url, data=form, headers=headers)
                answers.append(Answer("webhook", response.status_code))
            tampered = {**form, "From": "+447700900999"}
            signature = sign(AUTH_TOKEN, url, form)
            response = self.http.post(url, data=tampered, headers={"X-Twilio-Signature": signature})
            answers.append(Answer("webhook", response.status_code))
        return answers

    def texts_to(self, number: str) -> list[str]:
        return [m.value("Body") for m in self.twilio.messages if m.value("To") == number]


_sids = itertools.count(1)


@dataclass(frozen=True)
class Text:
    form: dict[str, str]


class Sms(TwilioHarness):
    name = "sms"
    reply_channel = "sms"

    def message(self, says: str) -> Text:
        return Text(
            {
                "MessageSid": f"SM{secrets.token_hex(12)}{next(_sids):08d}",
                "AccountSid": ACCOUNT_SID,
                "From": "+447700900123",
                "To": FROM_NUMBER,
                "Body": says,
                "NumMedia": "0",
            }
        )

    def callbacks(self, message: Text) -> list[tuple[str, dict[str, str]]]:
        return [("/twilio/sms", message.form)]

    def acknowledgements(self, message: Text) -> list[str]:
        return self.texts_to(message.form["From"])


@dataclass(frozen=True)
class Voicemail:
    """One call's callbacks, made once, so a redelivery is the very same forms."""

    call: Call
    incoming: dict[str, str]
    recording: dict[str, str]
    transcription: dict[str, str]


class Voice(TwilioHarness):
    name = "voice"
    reply_channel = "sms"  # a voicemail is answered by text

    def message(self, says: str) -> Voicemail:
        call = Call(caller="+447700900456")  # a UK mobile: the only callers who get a text
        return Voicemail(call, call.incoming(), call.recording(27), call.transcription(says))

    def callbacks(self, message: Voicemail) -> list[tuple[str, dict[str, str]]]:
        return [
            ("/twilio/voice", message.incoming),
            ("/twilio/voice/recording", message.recording),
            ("/twilio/voice/transcription", message.transcription),
        ]

    def acknowledgements(self, message: Voicemail) -> list[str]:
        return self.texts_to(message.call.caller)


@dataclass(frozen=True)
class Mail:
    sender: str
    raw: bytes


class Email(Harness):
    name = "email"
    reply_channel = "email"
    answers: ClassVar[dict[str, Answer]] = {
        ACCEPTED: Answer("DATA", 250),
        REFUSED: Answer("RCPT", 550),
        RETRY_LATER: Answer("DATA", 451),
    }
    NOT_SERVED = (
        "someone.else@advocacy.example.org",  # our domain, not an address intake receives on
        "referrals@elsewhere.example.net",  # not our domain at all: a relay attempt
    )

    def __init__(self, request: pytest.FixtureRequest) -> None:
        super().__init__(request)
        self.relay: RecordingRelay = request.getfixturevalue("relay")
        self.smtp: Settings = request.getfixturevalue("smtp")  # sets the runtime's settings

    def main_door(self) -> Door:
        return Door(self.runtime, self.smtp)

    def open_door(self, runtime: Runtime) -> Any:
        return intake_smtp(runtime, runtime.settings.with_(smtp_port=free_port()))

    def message(self, says: str) -> Mail:
        sender = "pat.okafor@example.com"
        message = EmailMessage()
        message["From"] = f"Pat Okafor <{sender}>"
        message["To"] = INTAKE_ADDRESS
        message["Subject"] = "Advocacy referral"
        message["Date"] = "Wed, 04 Jun 2025 10:15:00 +0100"
        message["Message-ID"] = f"<contract-{secrets.token_hex(8)}@example.com>"
        message.set_content(says + "\n")
        return Mail(sender, message.as_bytes(policy=email.policy.SMTP))

    def _send(self, door: Door, mail: Mail, rcpt: str) -> Answer:
        """One SMTP conversation, as a sending mail server has it; the answer that ended it."""
        settings: Settings = door.address
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as client:
            client.ehlo("mail.example.com")
            code, _ = client.mail(mail.sender)
            if code != 250:
                return Answer("MAIL", code)
            code, _ = client.rcpt(rcpt)
            if code != 250:
                client.rset()
                return Answer("RCPT", code)
            code, _ = client.data(mail.raw)
            return Answer("DATA", code)

    def deliver(self, door: Door, message: Mail) -> list[Answer]:
        return [self._send(door, message, INTAKE_ADDRESS)]

    def forge(self, door: Door, message: Mail) -> list[Answer]:
        return [self._send(door, message, address) for address in self.NOT_SERVED]

    def acknowledgements(self, message: Mail) -> list[str]:
        found = []
        for relayed in self.relay.received:
            if relayed.rcpt_tos == [message.sender]:
                body = relayed.message.get_body(preferencelist=("plain",))
                assert body is not None
                found.append(str(body.get_content()))
        return found

    def everything_sent(self) -> int:
        return len(self.twilio.messages) + len(self.relay.received)


HARNESSES: dict[str, type[Harness]] = {"sms": Sms, "email": Email, "voice": Voice}


# -- the runner ---------------------------------------------------------------------------------


def work(runtime: Runtime) -> None:
    """Drain the queues with a real worker whose jobs find `runtime` (as `intake worker` does)."""
    previous = runtime_module.installed()
    runtime_module.install(runtime)
    try:
        build_worker(runtime, simple=True).work(burst=True)
    finally:
        runtime_module.install(previous)


def jobs_made(runtime: Runtime) -> int:
    """Jobs this test's doors queued (or scheduled): every job id starts with the prefix."""
    prefix = runtime.settings.queue_prefix
    queued = sum(
        Queue(queue_name(runtime.settings, p), connection=runtime.redis).count for p in PRIORITIES
    )
    stored = list(runtime.redis.scan_iter(match=f"rq:job:{prefix}*", count=500))
    return max(queued, len(stored))


@contextmanager
def door_for(harness: Harness, case: ContractCase, tmp_path: Path) -> Iterator[Door]:
    """The door the row is played against: the fixtures' own, or one on a Redis it can stop."""
    if not case.own_redis:
        yield harness.main_door()
        return
    server = RedisServer(tmp_path / "own-redis")
    server.directory.mkdir()
    server.start()
    settings = harness.runtime.settings.with_(redis_url=server.url)
    runtime = Runtime.build(settings, channels.registry())  # the same store, its own Redis
    try:
        with harness.open_door(runtime) as address:
            yield Door(runtime, address, server)
    finally:
        runtime.close()
        server.stop()


def play(harness: Harness, case: ContractCase, tmp_path: Path) -> Any:
    """Run one row's steps against one channel; returns the message it was about."""
    message = harness.message(case.says)
    store = harness.runtime.store
    with door_for(harness, case, tmp_path) as door:
        for step in case.steps:
            if isinstance(step, Deliver | Forge):
                deliver = harness.deliver if isinstance(step, Deliver) else harness.forge
                answers = deliver(door, message)
                expected = harness.answers[step.expect]
                assert answers, f"{harness.name}: nothing was delivered"
                assert answers == [expected] * len(answers), f"{step}: {answers}"
            elif isinstance(step, Work):
                work(door.runtime)
            elif isinstance(step, RedisDown):
                assert door.redis is not None, "a row that stops Redis needs own_redis"
                door.redis.stop()
            elif isinstance(step, RedisBack):
                assert door.redis is not None, "a row that stops Redis needs own_redis"
                door.redis.start()
            elif isinstance(step, Expect):
                if step.jobs is not None:
                    assert jobs_made(door.runtime) == step.jobs
                if step.referrals is not None:
                    assert store.count_referrals() == step.referrals
    return message


def expect_outcome(harness: Harness, case: ContractCase, message: Any) -> None:
    """What the row says must have come of it, for any channel."""
    store = harness.runtime.store
    referrals: list[Referral] = store.list_referrals(limit=100)
    assert len(referrals) == case.referrals, [r.reference for r in referrals]
    acknowledgements = harness.acknowledgements(message)
    assert len(acknowledgements) == case.acknowledgements, acknowledgements
    assert harness.everything_sent() == case.acknowledgements  # nothing else, to anyone
    for referral in referrals:
        assert referral.channel == harness.name
        assert referral.id is not None
        assert len(store.messages_for(referral.id)) == 1  # one message, however often delivered
        if case.safe_to_contact is not None:
            assert referral.safe_to_contact is case.safe_to_contact
        sent = [(o["kind"], o["channel"], o["status"]) for o in store.outbound_for(referral.id)]
        assert sent == [("ack", harness.reply_channel, "sent")] * case.acknowledgements
        for acknowledgement in acknowledgements:
            assert referral.reference in acknowledgement


def _rows() -> list[Any]:
    """Every row of the table against every channel (a known bug marked as a strict xfail)."""
    rows = []
    for case in CONTRACT:
        for channel in HARNESSES:
            bug = KNOWN_BUGS.get((channel, case.label))
            marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
            rows.append(pytest.param(channel, case, id=f"{channel}: {case.label}", marks=marks))
    return rows


@pytest.mark.parametrize(("channel", "case"), _rows())
def test_contract(
    channel: str, case: ContractCase, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    harness = HARNESSES[channel](request)
    message = play(harness, case, tmp_path)
    expect_outcome(harness, case, message)


def test_every_channel_has_a_harness() -> None:
    """A channel added to the registry without a harness would silently skip the contract."""
    assert sorted(c.name for c in channels.registry()) == sorted(HARNESSES)
