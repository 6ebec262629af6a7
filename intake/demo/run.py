"""`intake demo`: start everything, send the samples, say where to look, run until Ctrl-C.

The demo never touches a real install: it runs on a data folder of its own (a new temporary one
unless `--data-dir` names one), with its own embedded Redis and SQLite database, and every
setting that could reach the outside (Twilio, the mail relay, the case system) is set in the
children's environment, which wins over any `.env` file.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from intake.demo import mailcatcher, samples, twilio
from intake.embedded_redis import EmbeddedRedis

DEMO_LOGIN = "demo@intake.example"
INTAKE_ADDRESS = "referrals@intake.example"
ONCALL_NUMBER = "+447700900999"
PROCESSES = {
    "web": ["web"],
    "smtp": ["smtp"],
    "worker": ["worker"],
    "clock": ["sla-check", "--every", "60"],
}


def _free_port(preferred: int = 0) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, seconds: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def _wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise RuntimeError(f"nothing listened on port {port} within {seconds:.0f} s")


def run_demo(
    data_dir: str | None = None, port: int = 0, open_for: float | None = None
) -> int:
    """Run the demo; `open_for` seconds after the samples are answered it stops by itself
    (for tests), else at Ctrl-C."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the catcher's SMTP chatter
    folder = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="intake-demo-"))
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    web_port = port or _free_port(8000)
    smtp_port = _free_port(8025)
    base = f"http://127.0.0.1:{web_port}"
    token = secrets.token_hex(16)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())

    redis = EmbeddedRedis(folder)
    texts = twilio.start()
    mail = mailcatcher.start(folder / "mail")
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        INTAKE_DEMO="true",
        DATA_DIR=str(folder),
        DATABASE_URL=f"sqlite:///{folder / 'intake.db'}",
        REDIS_URL=redis.url,
        INTAKE_QUEUE_PREFIX="intake-demo",
        HOST="127.0.0.1",
        PORT=str(web_port),
        PUBLIC_BASE_URL=base,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        INTAKE_EMAIL_ADDRESSES=INTAKE_ADDRESS,
        INTAKE_EMAIL_FROM=f"Demo Advocacy <{INTAKE_ADDRESS}>",
        SMTP_RELAY_URL=mail.url,
        INTAKE_ORG_NAME="Demo Advocacy",
        TWILIO_ACCOUNT_SID=samples.ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=token,
        TWILIO_FROM_NUMBER=samples.SERVICE_NUMBER,
        TWILIO_API_BASE_URL=texts.url,
        VOICE_TRANSCRIPTION="twilio",
        CASE_SYSTEM="store",
        ONCALL_DUTY_CONTACTS=ONCALL_NUMBER,
        ONCALL_MANAGER_CONTACT="",
        INTAKE_API_TOKEN=secrets.token_urlsafe(24),
        SECRET_KEY=secrets.token_urlsafe(32),
        SESSION_COOKIE_SECURE="false",
        DATABASE_AUTO_UPGRADE="true",
    )
    children: dict[str, subprocess.Popen[bytes]] = {}
    password = secrets.token_urlsafe(12)
    try:
        setup = subprocess.run(
            [sys.executable, "-m", "intake.cli", "user", "add", DEMO_LOGIN, "--role", "admin",
             "--password-stdin"],
            input=(password + "\n").encode(),
            env=env,
            capture_output=True,
            check=False,
        )
        if setup.returncode != 0:
            print(setup.stderr.decode(), file=sys.stderr)
            return 1
        for name, argv in PROCESSES.items():
            children[name] = subprocess.Popen(
                [sys.executable, "-m", "intake.cli", *argv],
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=open(folder / f"{name}.log", "wb"),  # noqa: SIM115 (closed with the child)
            )
        _wait_for(base + "/healthz")
        _wait_for_port(smtp_port)
        print(f"intake demo: sending sample referrals to {base} ...", flush=True)
        samples.send_texts(base, token)
        samples.send_email("127.0.0.1", smtp_port, INTAKE_ADDRESS)
        samples.send_voicemail(base, token)
        _await_answers(texts, mail, stopping)
        print(_summary(base, folder, texts, mail, password), flush=True)
        deadline = None if open_for is None else time.monotonic() + open_for
        while not stopping.is_set():
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"intake demo: {name} stopped ({folder / (name + '.log')})")
                    stopping.set()
            if deadline is not None and time.monotonic() > deadline:
                stopping.set()
            stopping.wait(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        mail.stop()
        texts.close()
        redis.stop()
    print(f"intake demo stopped. Its data stays in {folder} (delete it when you are done).")
    return 0


def _await_answers(
    texts: twilio.TwilioStandIn, mail: mailcatcher.MailCatcher, stopping: threading.Event
) -> None:
    """Wait (up to a minute) until every sample's sender has had its answer."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not stopping.is_set():
        if all(_received(s, texts, mail) for s in samples.SENDERS):
            return
        time.sleep(0.5)


def _indented(text: str) -> str:
    return text.strip().replace("\n", "\n      ")


def _received(
    sender: samples.Sender, texts: twilio.TwilioStandIn, mail: mailcatcher.MailCatcher
) -> list[str]:
    if sender.channel == "email":
        return [
            f"email “{str(c.message['Subject']).strip()}”:\n      {_indented(c.text())}"
            for c in mail.sent_to(sender.address)
        ]
    return [f"text: {_indented(t.body)}" for t in texts.sent_to(sender.address)]


def _summary(
    base: str,
    folder: Path,
    texts: twilio.TwilioStandIn,
    mail: mailcatcher.MailCatcher,
    password: str,
) -> str:
    lines = [
        "",
        "intake demo is running (nothing leaves this machine).",
        "",
        f"  Dashboard      {base}/",
        f"  Log in as      {DEMO_LOGIN}",
        f"  Password       {password}",
        f"  Texts sent     {texts.url}/  (the Twilio stand-in's record)",
        f"  Emails sent    {mail.folder}/  (.eml files from the mail catcher)",
        f"  Data folder    {folder}",
        "",
        "What each sender received:",
    ]
    for sender in samples.SENDERS:
        got = _received(sender, texts, mail)
        lines.append(f"  {sender.label} <{sender.address}>")
        lines += [f"    {item}" for item in got] or ["    nothing yet"]
    alerts = texts.sent_to(ONCALL_NUMBER)
    lines.append(f"  On-call ({ONCALL_NUMBER}), alerted about the emergency")
    lines += [f"    text: {_indented(t.body)}" for t in alerts] or ["    nothing yet"]
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)
