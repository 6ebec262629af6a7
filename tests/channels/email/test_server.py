"""The SMTP server on a real socket: whom it accepts, how much, what it says if Redis is down."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from rq import Queue

from channels.email.server import make_controller
from intake.config import Settings
from intake.queue import RECEIVE, connect, queue_name
from intake.runtime import Runtime
from tests.channels.email.smtp_support import INTAKE_ADDRESS, deliver, email_settings
from tests.support.servers import free_port

BODY = "Please can someone help my brother with his benefits appeal."


def referral_email(body: str = BODY) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Priya Shah <priya.shah@example.com>"
    message["To"] = INTAKE_ADDRESS
    message["Subject"] = "Advocacy for my brother"
    message["Message-ID"] = "<server-test-1@example.com>"
    message.set_content(body)
    return message


def queued_jobs(runtime: Runtime) -> list:
    jobs = []
    for priority in ("high", "default"):
        queue = Queue(queue_name(runtime.settings, priority), connection=runtime.redis)
        jobs.extend(queue.get_jobs())
    return jobs


@pytest.fixture
def smtp(runtime: Runtime) -> Iterator[Settings]:
    settings = email_settings(runtime, "smtp://127.0.0.1:1", smtp_data_size_limit=64 * 1024)
    runtime.settings = settings
    controller = make_controller(runtime, settings)
    controller.start()
    yield settings
    controller.stop()


def test_accepted_mail_is_queued_raw_with_its_envelope(runtime: Runtime, smtp: Settings) -> None:
    raw = referral_email().as_bytes()
    refused = deliver(
        smtp, raw, mail_from="priya.shah@example.com", rcpt_tos=[INTAKE_ADDRESS.upper()]
    )
    assert refused == {}
    jobs = queued_jobs(runtime)
    assert len(jobs) == 1
    job = jobs[0]
    assert job.func_name == RECEIVE
    assert job.args[0] == "email"
    payload = job.args[1]
    assert payload["raw"].replace(b"\r\n", b"\n").rstrip() == raw.replace(b"\r\n", b"\n").rstrip()
    assert payload["envelope_from"] == "priya.shah@example.com"
    assert payload["rcpt_tos"] == [INTAKE_ADDRESS.upper()]
    assert payload["peer"] == "127.0.0.1"
    assert payload["received_at"]
    assert job.retries_left and job.retries_left > 0  # the worker retries when the store is down


def test_null_return_path_is_accepted(runtime: Runtime, smtp: Settings) -> None:
    """Bounces come from `<>`: refusing them would only make the remote server bounce again."""
    deliver(smtp, referral_email().as_bytes(), mail_from="<>")
    (job,) = queued_jobs(runtime)
    assert job.args[1]["envelope_from"] == "<>"


def test_other_recipients_get_550_and_nothing_is_queued(runtime: Runtime, smtp: Settings) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        deliver(smtp, referral_email().as_bytes(), rcpt_tos=["someone.else@advocacy.example.org"])
    (code, _text), = caught.value.recipients.values()
    assert code == 550
    assert queued_jobs(runtime) == []


def test_one_accepted_recipient_among_refused_ones_is_delivered_once(
    runtime: Runtime, smtp: Settings
) -> None:
    refused = deliver(
        smtp, referral_email().as_bytes(), rcpt_tos=["relay-me@elsewhere.example", INTAKE_ADDRESS]
    )
    assert list(refused) == ["relay-me@elsewhere.example"]
    assert refused["relay-me@elsewhere.example"][0] == 550
    (job,) = queued_jobs(runtime)
    assert job.args[1]["rcpt_tos"] == [INTAKE_ADDRESS]


def test_oversized_message_declared_with_size_gets_552(runtime: Runtime, smtp: Settings) -> None:
    big = referral_email("word " * 40_000).as_bytes()  # about 200 KB, limit 64 KB
    with pytest.raises(smtplib.SMTPSenderRefused) as caught:
        deliver(smtp, big)
    assert caught.value.smtp_code == 552
    assert queued_jobs(runtime) == []


def test_oversized_message_without_size_gets_552_after_data(
    runtime: Runtime, smtp: Settings
) -> None:
    big = referral_email("He needs an advocate for his care review.\n" * 2_000).as_bytes()
    with smtplib.SMTP(smtp.smtp_host, smtp.smtp_port, timeout=10) as client:
        client.ehlo()
        assert client.mail("priya.shah@example.com")[0] == 250  # no SIZE parameter
        assert client.rcpt(INTAKE_ADDRESS)[0] == 250
        code, _text = client.data(big)
    assert code == 552
    assert queued_jobs(runtime) == []


def test_redis_down_answers_451_so_the_sender_retries(runtime: Runtime, smtp: Settings) -> None:
    runtime.redis = connect(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with pytest.raises(smtplib.SMTPDataError) as caught:
        deliver(smtp, referral_email().as_bytes())
    assert caught.value.smtp_code == 451


def test_unexpected_error_answers_4xx_not_500(
    runtime: Runtime, smtp: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # enqueue then fails with something that is not a RedisError
    monkeypatch.setattr(runtime, "redis", None)
    with pytest.raises(smtplib.SMTPDataError) as caught:
        deliver(smtp, referral_email().as_bytes())
    assert 400 <= caught.value.smtp_code < 500


def test_long_lines_are_accepted(runtime: Runtime, smtp: Settings) -> None:
    """Over RFC 5321's 1000 characters, but a referral all the same: not a permanent 500."""
    deliver(smtp, referral_email("My mum needs help. " * 2_000).as_bytes())
    assert len(queued_jobs(runtime)) == 1


def test_message_that_screens_urgent_goes_on_the_high_queue(
    runtime: Runtime, smtp: Settings
) -> None:
    from intake.priority import priority_for

    text = "He has taken 40 paracetamol tonight and says he wants to die."
    expected = priority_for("Urgent: my dad\n" + text, "email")
    message = referral_email(text)
    message.replace_header("Subject", "Urgent: my dad")
    deliver(smtp, message.as_bytes())
    high = Queue(queue_name(runtime.settings, "high"), connection=runtime.redis)
    default = Queue(queue_name(runtime.settings, "default"), connection=runtime.redis)
    assert expected == "high"
    assert (high.count, default.count) == (1, 0)


def test_sender_addresses_are_not_logged_at_info(
    smtp: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """aiosmtpd logs every command line (MAIL FROM, RCPT TO) at INFO: personal data, kept out."""
    import logging

    caplog.set_level(logging.INFO)
    raw = b"From: someone.private@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
    deliver(smtp, raw, mail_from="someone.private@example.com")
    assert "someone.private@example.com" not in caplog.text
