"""CPU per email, intake against django-helpdesk, on the same emails (run by `make bench-scale`).

The peer is what a small charity might pick instead: django-helpdesk from PyPI, installed by this
bench into a virtualenv of its own (bench/.peer-venv, not committed; `--venv` to put it
elsewhere), with a minimal Django project on SQLite in a temporary directory
(bench/peer_helpdesk.py). Never run by `make test`.

The same emails go through both: intake's fixture corpus (tests/fixtures/email, the untidy real
world: charsets, broken MIME, auto-replies, bounces, lists) and generated referrals in the words
families and professionals use, one in four with a PDF referral form: 300 in all.

- intake: its real path with its default configuration. `intake smtp` (aiosmtpd) takes each over
  SMTP, `intake worker` (the default worker class) processes it, SQLite, a private redis-server,
  acknowledgements to a local relay. CPU is that of the SMTP process, the worker, their reaped
  children (the attachment sandbox) and redis-server, from the moment all are ready until the
  queues are empty: the service is long-running, so its start-up is not counted.
- django-helpdesk: its own email import (`helpdesk.email.extract_email_metadata`, message by
  message, as its `get_email` command does for a local mailbox directory: see
  bench/peer_helpdesk.py), SQLite, its acknowledgements to the same kind of relay. CPU is that of
  the whole import process; its import loop alone (Django's start-up excluded) is also kept, and
  the headline ratio uses that, so neither side pays its start-up.

Three alternating rounds (intake, peer, intake, ...), each on a fresh database; the figures are
the median round. Correctness per side: stored (referrals / tickets and follow-ups), acknowledged
(mail to the sender), auto-replies and bounces kept out (not stored as a referral or ticket, not
acknowledged), crashes. Writes bench/results/peer.json; `bench/report.py` puts the row in the
README.
"""

from __future__ import annotations

import email.policy
import email.utils
import json
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import cpu_seconds, free_port, machine, wait_workers  # noqa: E402
from intake.config import Settings  # noqa: E402
from tests.channels.email.smtp_support import RecordingRelay, recording_relay  # noqa: E402

RESULTS = ROOT / "bench" / "results"
FIXTURES = ROOT / "tests" / "fixtures" / "email"
PEER_VENV = ROOT / "bench" / ".peer-venv"
PEER_PACKAGE = "django-helpdesk"
INTAKE_ADDRESS = "referrals@advocacy.example.org"
TOTAL = 300
ROUNDS = 3
# What must not become a referral or a ticket: automatic replies and bounces (RFC 3834, RFC 3464).
# Lists and bulk mail are kept for a person to look at, but neither those nor these are answered.
KEPT_OUT = {"auto_reply", "bounce"}

FIRST = ["Sarah", "Tom", "Aisha", "Gareth", "Priya", "Declan", "Joy", "Mohammed", "Ewa", "Ruth"]
LAST = ["Whitfield", "Okafor", "Hughes", "Patel", "Kowalski", "Byrne", "Ahmed", "Lloyd", "Evans"]
SITUATIONS = [
    (
        "Advocacy for my mum, care home move",
        "my mother {name} has dementia and the council want to move her from Oakfield House "
        "to a nursing home across the county. She has said she wants to stay near us. Is there "
        "an advocate who could help her at the review next Thursday? I think the Care Act says "
        "she should have one.",
    ),
    (
        "IMHA referral - detained under s.3",
        "I am the ward manager on Willow Ward. {name} was detained under section 3 of the Mental "
        "Health Act yesterday and has asked to speak to an independent mental health advocate "
        "about his tribunal. He is available most afternoons.",
    ),
    (
        "Referral for IMCA - serious medical treatment",
        "{name} lacks capacity to decide about the proposed surgery and has no family or "
        "friends to consult. The best interests meeting is on the 14th. Please could an IMCA be "
        "instructed. The consultant's letter is attached where we have it.",
    ),
    (
        "help with a complaint about my dad's care",
        "hi, my dad {name} was discharged from hospital with no care package and fell twice at "
        "home. we want to complain to the NHS trust but don't know where to start. can someone "
        "help us please, I work shifts so email is best",
    ),
    (
        "Safeguarding concern - urgent",
        "I support {name} at a day centre. She told me today that her son takes her money and "
        "she is frightened to go home. Social services have been told. She would like someone "
        "independent on her side at the safeguarding meeting.",
    ),
    (
        "Care Act assessment - needs an advocate",
        "{name} has a learning disability and his needs assessment is due. He finds it very "
        "hard to say what he wants in meetings and has no one appropriate to support him. "
        "Could you allocate an advocate? His support worker can arrange a visit.",
    ),
]


# -- the emails ------------------------------------------------------------------------------


def corpus() -> tuple[list[tuple[str, str, bytes]], dict[str, dict[str, Any]]]:
    """(name, envelope sender, raw) for the fixture corpus, and each name's expectations
    (tests/fixtures/email/expected.json: kind, creates_referral, may_acknowledge)."""
    expected = json.loads((FIXTURES / "expected.json").read_text("utf-8"))
    out = []
    for name in sorted(expected):
        path = FIXTURES / name
        if path.exists():
            out.append((name, expected[name].get("envelope_from") or "", path.read_bytes()))
    return out, expected


def generated(count: int) -> list[tuple[str, str, bytes]]:
    """`count` realistic referrals, deterministic; every fourth with a PDF referral form."""
    from tests.fixtures.email._builders import make_pdf

    out = []
    for i in range(count):
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        writer = f"{FIRST[(i + 3) % len(FIRST)]} {LAST[(i + 5) % len(LAST)]}"
        address = f"{writer.lower().replace(' ', '.')}{i}@example.org.uk"
        subject, body = SITUATIONS[i % len(SITUATIONS)]
        msg = EmailMessage()
        msg["From"] = email.utils.formataddr((writer, address))
        msg["To"] = INTAKE_ADDRESS
        msg["Subject"] = subject
        msg["Date"] = email.utils.format_datetime(email.utils.localtime())
        msg["Message-ID"] = f"<gen-{i:04d}@example.org.uk>"
        text = body.format(name=f"{first} {last}")
        msg.set_content(
            f"Hello,\n\n{text}\n\nMy number is 07700 9{i:05d}.\n\nKind regards,\n{writer}\n"
        )
        if i % 4 == 0:
            form = make_pdf(
                [
                    [
                        "Advocacy referral form",
                        f"Name: {first} {last}",
                        f"Referrer: {writer}",
                        "Reason: " + text[:90],
                    ]
                ]
            )
            msg.add_attachment(
                form, maintype="application", subtype="pdf", filename="referral-form.pdf"
            )
        out.append((f"gen_{i:04d}.eml", address, msg.as_bytes(policy=email.policy.SMTP)))
    return out


def expectations(
    emails: list[tuple[str, str, bytes]], expected: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """What a correct service does with `emails` (a generated referral: stored, answered)."""
    kept_out = [n for n, _, _ in emails if expected.get(n, {}).get("kind") in KEPT_OUT]
    silent = {
        s.lower() for n, s, _ in emails if n in expected and not expected[n]["may_acknowledge"]
    }
    return {
        "should_store": sum(
            1 for n, _, _ in emails if expected.get(n, {}).get("creates_referral", True)
        ),
        "kept_out_names": kept_out,
        "must_not_answer": silent - {""},
        "may_answer": sum(
            1 for n, _, _ in emails if expected.get(n, {}).get("may_acknowledge", True)
        ),
    }


def answers(relay: RecordingRelay, must_not_answer: set[str]) -> tuple[int, int]:
    """(acknowledgements the relay got, of them to senders that must not be answered)."""
    acks = [r for r in relay.received if any(t.lower() != INTAKE_ADDRESS for t in r.rcpt_tos)]
    wrong = sum(1 for r in acks if {t.lower() for t in r.rcpt_tos} & must_not_answer)
    return len(acks), wrong


# -- intake ----------------------------------------------------------------------------------


def proc_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of a process, and of the children it has reaped (for the
    worker: the sandboxed readers of attachments), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return cpu_seconds(pid), (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def cpu_by_part(pids: dict[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    for part, pid in pids.items():
        own, children = proc_cpu(pid)
        out[part] = own
        if children or part == "worker":
            out[f"{part}_children"] = children
    return out


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    while proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"process on port {port} exited ({proc.returncode}) before it was ready")


def drained(settings: Settings) -> bool:
    """No job waiting, running, scheduled or deferred on any of intake's queues."""
    from redis import Redis
    from rq.registry import DeferredJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    from intake.queue import queues

    conn = Redis.from_url(settings.redis_url or "")
    try:
        return all(
            q.count == 0
            and StartedJobRegistry(queue=q).count == 0
            and ScheduledJobRegistry(queue=q).count == 0
            and DeferredJobRegistry(queue=q).count == 0
            for q in queues(settings, conn)
        )
    finally:
        conn.close()


def run_intake(
    emails: list[tuple[str, str, bytes]], expected: dict[str, dict[str, Any]], relay: RecordingRelay
) -> dict[str, Any]:
    import sqlalchemy as sa

    from bench.run import env_for
    from intake.store import Store, schema

    relay.received.clear()
    with tempfile.TemporaryDirectory() as tmp:
        redis_port = free_port()
        redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                tmp,
            ],
            stdout=subprocess.DEVNULL,
        )
        smtp_port = free_port()
        settings = Settings(
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            database_url=f"sqlite:///{tmp}/intake.db",
            data_dir=Path(tmp),
            queue_prefix="intake-peer",
        )
        procs: list[subprocess.Popen[bytes]] = []
        try:
            wait_port(redis_port, redis)
            Store.from_url(settings.effective_database_url).upgrade()
            env = env_for(settings)
            env.update(
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=str(smtp_port),
                INTAKE_EMAIL_ADDRESSES=INTAKE_ADDRESS,
                INTAKE_EMAIL_FROM=f"Northgate Advocacy <{INTAKE_ADDRESS}>",
                SMTP_RELAY_URL=relay.url,
                INTAKE_ORG_NAME="Northgate Advocacy",
                # Every email here comes from one IP (this bench) and most from one domain:
                # left at 30 per source, intake's backscatter guard would (rightly, for a real
                # source) answer only 30 of these 300 different people; the peer has no guard.
                ACK_SOURCE_LIMIT="1000",
            )
            intake_bin = str(Path(sys.executable).with_name("intake"))
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            smtp = subprocess.Popen([intake_bin, "smtp"], env=env, **quiet)  # type: ignore[call-overload]
            worker = subprocess.Popen([intake_bin, "worker"], env=env, **quiet)  # type: ignore[call-overload]
            procs = [smtp, worker]
            wait_port(smtp_port, smtp)
            wait_workers(settings, [worker])
            pids = {"smtp": smtp.pid, "worker": worker.pid, "redis": redis.pid}
            before = cpu_by_part(pids)
            began = time.perf_counter()
            refused = 0
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as client:
                for _name, sender, raw in emails:
                    try:
                        client.sendmail(sender, [INTAKE_ADDRESS], raw)
                    except smtplib.SMTPException:
                        refused += 1
            while not drained(settings):
                time.sleep(0.2)
            after = cpu_by_part(pids)
            parts = {k: round(after[k] - before.get(k, 0.0), 3) for k in after}
            cpu = sum(parts.values())
            seconds = time.perf_counter() - began
            from intake.encryption import keyring

            store = Store.from_url(settings.effective_database_url, keyring(settings))
            referrals = store.count_referrals()
            events_by_kind: dict[str, int] = {}
            for event in store.mail_events.recorded():
                events_by_kind[event["kind"]] = events_by_kind.get(event["kind"], 0) + 1
            with store.engine.connect() as conn:
                stored_messages = conn.execute(
                    sa.select(sa.func.count()).select_from(schema.messages)
                ).scalar_one()
            store.dispose()
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
            redis.terminate()
            redis.wait(timeout=30)
    want = expectations(emails, expected)
    acked, wrongly = answers(relay, want["must_not_answer"])
    return {
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_email": round(cpu * 1000 / len(emails), 1),
        # SMTP door, worker, the worker's sandboxed readers, redis-server
        "cpu_ms_per_email_by_process": {
            k: round(v * 1000 / len(emails), 1) for k, v in parts.items()
        },
        "seconds": round(seconds, 1),
        "emails": len(emails),
        "refused_over_smtp": refused,
        # a reply in a thread is stored as a message of its referral, not a referral of its own
        "stored_referrals": referrals,
        "stored_messages": stored_messages,
        "should_store": want["should_store"],
        "kept_out": events_by_kind.get("auto_reply", 0) + events_by_kind.get("bounce", 0),
        "kept_out_of": len(want["kept_out_names"]),
        "mail_events": events_by_kind,
        "acknowledged": acked,
        "may_acknowledge": want["may_answer"],
        "acknowledged_when_must_not": wrongly,
        "crashed": 0,
    }


# -- django-helpdesk -------------------------------------------------------------------------


def peer_python(venv: Path) -> Path:
    """The peer virtualenv's Python, creating it and installing django-helpdesk if need be."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    check = subprocess.run([str(python), "-c", "import helpdesk"], capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", PEER_PACKAGE], check=True)
    return python


def peer_version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-m", "pip", "show", PEER_PACKAGE, "django"],
        capture_output=True,
        text=True,
    ).stdout
    versions = [
        line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Version")
    ]
    return f"django-helpdesk {versions[0]}, Django {versions[1]}" if len(versions) == 2 else out


def run_peer(
    python: Path,
    template_db: Path,
    emails: list[tuple[str, str, bytes]],
    expected: dict[str, dict[str, Any]],
    relay: RecordingRelay,
) -> dict[str, Any]:
    import resource

    relay.received.clear()
    script = ROOT / "bench" / "peer_helpdesk.py"
    with tempfile.TemporaryDirectory() as tmp:
        db, mail = Path(tmp) / "helpdesk.sqlite3", Path(tmp) / "mail"
        shutil.copy(template_db, db)
        mail.mkdir()
        for name, _sender, raw in emails:
            (mail / name).write_bytes(raw)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(
            [str(python), str(script), "import", str(db), str(mail), str(relay.port)],
            capture_output=True,
            text=True,
            cwd=tmp,
        )
        seconds = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"django-helpdesk import failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    outcomes: dict[str, str] = out["outcomes"]
    want = expectations(emails, expected)
    acked, wrongly = answers(relay, want["must_not_answer"])
    crashes = {name: o for name, o in outcomes.items() if o.startswith("crash")}
    return {
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_email": round(cpu * 1000 / len(emails), 1),
        "import_cpu_s": out["import_cpu_s"],
        "import_cpu_ms_per_email": round(out["import_cpu_s"] * 1000 / len(emails), 1),
        "seconds": round(seconds, 1),
        "emails": len(emails),
        "tickets": out["tickets"],
        "stored_as_ticket_or_followup": sum(
            1 for o in outcomes.values() if o in ("ticket", "followup")
        ),
        "should_store": want["should_store"],
        "kept_out": sum(
            1 for n in want["kept_out_names"] if outcomes.get(n) not in ("ticket", "followup")
        ),
        "kept_out_of": len(want["kept_out_names"]),
        "acknowledged": acked,
        "may_acknowledge": want["may_answer"],
        "acknowledged_when_must_not": wrongly,
        "crashed": len(crashes),
        "crashes": crashes,
    }


# -- the run ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--venv", type=Path, default=PEER_VENV)
    parser.add_argument("--emails", type=int, default=TOTAL)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "database": "SQLite"}
    try:
        python = peer_python(args.venv)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"peer: cannot install {PEER_PACKAGE}: {exc}", file=sys.stderr)
        return 1
    results["peer"] = peer_version(python)
    fixtures, expected = corpus()
    emails = (fixtures + generated(max(0, args.emails - len(fixtures))))[: args.emails]
    results["emails"] = {
        "total": len(emails),
        "fixtures": sum(1 for name, _, _ in emails if name in expected),
        "generated": sum(1 for name, _, _ in emails if name not in expected),
        "with_pdf": sum(1 for _, _, raw in emails if b"application/pdf" in raw),
        "auto_replies_and_bounces": sum(
            1 for n, _, _ in emails if expected.get(n, {}).get("kind") in KEPT_OUT
        ),
    }
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, recording_relay() as relay:
        template = Path(tmp) / "template.sqlite3"
        subprocess.run(
            [str(python), str(ROOT / "bench" / "peer_helpdesk.py"), "setup", str(template)],
            check=True,
            cwd=tmp,
        )
        for i in range(args.rounds):
            intake = run_intake(emails, expected, relay)
            print(f"  round {i + 1}: intake {intake['cpu_ms_per_email']} ms/email", file=sys.stderr)
            peer = run_peer(python, template, emails, expected, relay)
            print(
                f"  round {i + 1}: django-helpdesk {peer['cpu_ms_per_email']} ms/email "
                f"({peer['import_cpu_ms_per_email']} without Django's start-up)",
                file=sys.stderr,
            )
            rounds.append({"intake": intake, "peer": peer})
    results["rounds"] = rounds

    def median(side: str, key: str) -> float:
        return round(statistics.median(r[side][key] for r in rounds), 1)

    intake_ms = median("intake", "cpu_ms_per_email")
    peer_ms = median("peer", "import_cpu_ms_per_email")
    peer_whole_ms = median("peer", "cpu_ms_per_email")
    results["intake_cpu_ms_per_email"] = intake_ms
    results["peer_cpu_ms_per_email"] = peer_ms
    results["peer_cpu_ms_per_email_with_startup"] = peer_whole_ms
    results["ratio"] = round(intake_ms / peer_ms, 2)
    results["ratio_vs_peer_with_startup"] = round(intake_ms / peer_whole_ms, 2)
    results["goal"] = 0.5
    results["seconds"] = round(time.perf_counter() - began)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "peer.json").write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    last = rounds[-1]
    print(
        f"CPU per email: intake {intake_ms} ms, django-helpdesk {peer_ms} ms "
        f"({peer_whole_ms} with its start-up); ratio {results['ratio']}x (goal <= 0.5x)"
    )
    for side in ("intake", "peer"):
        r = last[side]
        print(f"  {side}: " + ", ".join(f"{k} {v}" for k, v in r.items() if k != "crashes"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
