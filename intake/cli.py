"""The `intake` command.

`intake run` is what `make run` calls: one terminal, the whole service (web, SMTP, worker) on
embedded defaults. `intake web`, `intake smtp` and `intake worker` are the Procfile's processes,
one each, for deployments that run them on separate machines.

This module is a composition root (with `worker.py` and `intake/tasks.py`): it builds each
process's runtime with the channels of `channels.registry()`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import channels
from intake import settings_check
from intake.config import ConfigError, Settings, load_settings
from intake.embedded_redis import EmbeddedRedis
from intake.encryption import keyring

if TYPE_CHECKING:
    from intake.runtime import Runtime
    from intake.store import Store

log = logging.getLogger("intake")

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
# What `intake run` supervises: the Procfile's processes, in the order they are started.
PROCFILE_PROCESSES = {
    "web": ["web"],
    "smtp": ["smtp"],
    "worker": ["worker"],
    "clock": ["sla-check", "--every", "60"],
}


def _logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=LOG_FORMAT)


def _with_redis(settings: Settings) -> tuple[Settings, EmbeddedRedis | None]:
    """Use REDIS_URL when set, else start (or join) the embedded Redis under DATA_DIR."""
    if settings.redis_url:
        return settings, None
    embedded = EmbeddedRedis(settings.data_dir)
    log.info("no REDIS_URL: using the embedded Redis at %s", embedded.url)
    return replace(settings, redis_url=embedded.url), embedded


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


# -- processes ------------------------------------------------------------------------------


def _settings(process: str, **given: object) -> Settings:
    """The environment's settings (with what the command line `given` overrides), checked for
    `process`: `ConfigError` if one cannot work."""
    settings = load_settings()
    changes = {key: value for key, value in given.items() if value}
    if changes:
        settings = settings.with_(**changes)
    settings_check.require(settings, process)
    return settings


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from intake import runtime
    from intake.runtime import Runtime
    from intake.web.app import create_app

    settings, embedded = _with_redis(_settings("web", host=args.host, port=args.port))
    rt = Runtime.build(settings, channels.registry())
    runtime.install(rt)
    try:
        uvicorn.run(
            create_app(rt),
            host=args.host or settings.host,
            port=args.port or settings.port,
            proxy_headers=True,
            forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
            log_level="info",
            access_log=False,  # intake.web.access_log logs requests without query strings
        )
    finally:
        if embedded:
            embedded.stop()
    return 0


def cmd_smtp(args: argparse.Namespace) -> int:
    from channels.email.server import make_controller
    from intake.runtime import Runtime

    settings, embedded = _with_redis(_settings("smtp"))
    rt = Runtime.build(settings, channels.registry())
    controller = make_controller(rt)
    controller.start()
    log.info("SMTP server listening on %s:%s", settings.smtp_host, settings.smtp_port)
    try:
        _wait_for_signal()
    finally:
        controller.stop()
        rt.close()
        if embedded:
            embedded.stop()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import worker

    argv = (
        (["--burst"] if args.burst else [])
        + (["--simple"] if args.simple else [])
        + (["--fork"] if args.fork else [])
    )
    settings = _settings("worker")
    if not os.environ.get("REDIS_URL"):
        settings, embedded = _with_redis(settings)
        os.environ["REDIS_URL"] = settings.redis_url or ""
    else:
        embedded = None
    try:
        return worker.main(argv)
    finally:
        if embedded:
            embedded.stop()


def cmd_run(args: argparse.Namespace) -> int:
    """Supervise web, SMTP and worker in one terminal; Ctrl-C stops them all, then Redis."""
    from intake.runtime import Runtime

    settings, embedded = _with_redis(_settings("run"))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    Runtime.build(settings).close()  # upgrade the schema once, before the processes race to
    env = dict(os.environ, REDIS_URL=settings.redis_url or "", PYTHONUNBUFFERED="1")
    if not settings.database_url:
        env["DATABASE_URL"] = settings.effective_database_url
    if not settings.twilio_auth_token:
        log.warning("TWILIO_AUTH_TOKEN is not set: every Twilio webhook will be refused (403)")
    if not settings.api_token:
        log.warning("INTAKE_API_TOKEN is not set: the JSON API will refuse every request (401)")
    commands = {
        name: [sys.executable, "-m", "intake.cli", *argv]
        for name, argv in PROCFILE_PROCESSES.items()
    }
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        for name, command in commands.items():
            children[name] = subprocess.Popen(command, env=env, start_new_session=True)
        base = f"http://{settings.host}:{settings.port}"
        print(
            f"\nintake is starting:\n"
            f"  web        {base}/  (health {base}/healthz, API {base}/api/referrals)\n"
            f"  SMS        POST {base}/twilio/sms\n"
            f"  SMTP       {settings.smtp_host}:{settings.smtp_port}\n"
            f"  Redis      {settings.redis_url}\n"
            f"  database   {settings.effective_database_url}\n"
            f"{_first_user_hint(settings)}"
            f"Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping.is_set():
            for name, child in children.items():
                if child.poll() is not None:
                    log.error("%s exited with %s: stopping the others", name, child.returncode)
                    stopping.set()
            stopping.wait(0.5)
    finally:
        _stop_children(children)
        if embedded:
            embedded.stop()
    failed = [n for n, c in children.items() if c.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed else 0


def intake_command() -> str:
    """How to run `intake` from this shell: `intake` when it is on PATH (an activated virtualenv),
    else the path of this installation's script (`.venv/bin/intake` under `make run`)."""
    import shutil
    from pathlib import Path

    script = Path(sys.executable).with_name("intake")
    found = shutil.which("intake")
    if found and Path(found).resolve() == script.resolve():
        return "intake"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _first_user_hint(settings: Settings) -> str:
    """The banner's line about logging in: how to make the first account when there is none."""
    from intake.store import Store

    store = Store.from_url(settings.effective_database_url, keyring(settings))
    try:
        if store.users.all():
            return f"  log in     http://{settings.host}:{settings.port}/login\n"
    finally:
        store.dispose()
    command = intake_command()
    return (
        "\nNo dashboard accounts yet. Create the first one (it asks for a password) with:\n"
        f"  {command} user add you@example.org --role admin\n\n"
    )


def _stop_children(children: dict[str, subprocess.Popen[bytes]], grace: float = 15.0) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


# -- tools ----------------------------------------------------------------------------------


def cmd_screen(args: argparse.Namespace) -> int:
    from intake.screening.cli import run_screen

    return run_screen(sys.stdin, sys.stdout, jsonl=args.jsonl)


def cmd_extract(args: argparse.Namespace) -> int:
    from intake.extraction.cli import run_extract

    return run_extract(sys.stdin, sys.stdout, jsonl=args.jsonl, channel=args.channel)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.kind == "screening":
        from intake.screening.cli import run_eval
    elif args.kind == "language":
        from intake.language_eval import run_eval as run_eval  # type: ignore[no-redef]
    elif args.kind == "eligibility":
        from intake.extraction.cli import run_eval_eligibility as run_eval  # type: ignore[no-redef]
    else:
        from intake.extraction.cli import run_eval as run_eval  # type: ignore[no-redef]
    return run_eval(args.file, sys.stdout)


def cmd_replay(args: argparse.Namespace) -> int:
    """Resend referral events that could not be delivered to the case system."""
    from intake import forwarding
    from intake.runtime import Runtime

    if not args.references and not args.all_failed:
        print("name one or more references, or --all-failed", file=sys.stderr)
        return 2
    settings, embedded = _with_redis(_settings("replay"))
    rt = Runtime.build(settings, channels.registry())
    try:
        return forwarding.replay_command(
            rt, args.references, all_failed=args.all_failed, out=sys.stdout
        )
    finally:
        rt.close()
        if embedded:
            embedded.stop()


def cmd_forward_test(args: argparse.Namespace) -> int:
    """Send a made-up referral to the configured case system(s) and print each answer."""
    from intake.forwarding.trial import run

    return run(load_settings(), args.target or [], args.type, sys.stdout)


def _user_store() -> Store:
    """The store alone (the database, no Redis), its schema brought up to date."""
    from intake.store import Store

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.from_url(settings.effective_database_url, keyring(settings))
    store.upgrade(auto=settings.database_auto_upgrade)
    return store


def cmd_user(args: argparse.Namespace) -> int:
    """`intake user list|add|disable|enable|unlock|reset-password|set-role` (the database only:
    no Redis needed). Every change is audited as `cli:<operating-system user>`."""
    from intake import users
    from intake.store import UserExists

    store = _user_store()
    actor = users.cli_actor()
    command = args.user_command
    try:
        if command == "list":
            settings = load_settings()
            print(f"{'email':40} {'role':9} state")
            for user in store.users.all():
                state = "active" if user.active else "disabled"
                if user.active and users.is_locked(settings, store, user.email):
                    state = "locked (intake user unlock)"
                print(f"{user.email:40} {user.role:9} {state}")
            return 0
        if command == "add":
            password = users.read_password(args.password_stdin)
            user = users.admin_add(store, None, actor, args.email, password, args.role)
            print(f"added {user.email} ({user.role})")
        elif command in ("disable", "enable"):
            users.set_active(store, None, actor, args.email, active=command == "enable")
            print(f"{command}d {args.email.lower()}")
        elif command == "unlock":
            users.unlock(store, None, actor, args.email)
            print(f"unlocked {args.email.lower()}")
        elif command == "reset-password":
            given = users.read_password(args.password_stdin) if not args.generate else None
            new = users.reset_password(store, None, actor, args.email, given)
            print(f"reset the password of {args.email.lower()}; their sessions have ended")
            if args.generate:
                print(f"new password (pass it on once): {new}")
        elif command == "reset-totp":
            users.reset_totp(store, None, actor, args.email)
            print(f"cleared the second factor of {args.email.lower()}: they set it up again")
        elif command == "set-role":
            user = users.set_role(store, None, actor, args.email, args.role)
            print(f"{user.email} is now {user.role}")
    except (ValueError, LookupError, UserExists, users.NotAllowed) as exc:
        print(f"intake user {command}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """`intake export corrections --out FILE`: advocates' corrections of screening as JSON
    lines in the shape of tests/data/screening_eval.jsonl, for retraining."""
    from intake.corrections import write_corrections

    store = _user_store()
    try:
        with open(args.out, "w", encoding="utf-8") as out:
            count = write_corrections(store, out)
        store.audit(
            _cli_actor(), "corrections.exported", detail={"rows": count, "file": str(args.out)}
        )
    finally:
        store.dispose()
    print(f"wrote {count} corrected referral{'' if count == 1 else 's'} to {args.out}")
    return 0


def _cli_actor() -> str:
    from intake.users import cli_actor

    return cli_actor()


def cmd_demo(args: argparse.Namespace) -> int:
    """`intake demo`: the whole service on its own data, with stand-ins for Twilio and the mail
    relay, sample referrals through the real doors, and a demo login; until Ctrl-C."""
    from intake.demo.run import run_demo

    return run_demo(data_dir=args.data_dir, port=args.port, open_for=args.exit_after)


def cmd_db(args: argparse.Namespace) -> int:
    """`intake db upgrade` / `intake db current`: the schema's migrations (no Redis needed)."""
    from intake.store import Store, migrate

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.from_url(settings.effective_database_url, keyring(settings))
    try:
        if args.db_command == "upgrade":
            before, after = store.migrate_to(args.revision)
            if before == after:
                print(f"already at {after}")
            else:
                print(f"upgraded {before or 'an empty or unversioned database'} -> {after}")
        else:
            found = store.revision()
            wanted = migrate.head()
            state = "up to date" if found == wanted else "behind: run `intake db upgrade`"
            print(f"{found or 'no revision'} (this code needs {wanted}: {state})")
    finally:
        store.dispose()
    return 0


def cmd_sla_check(args: argparse.Namespace) -> int:
    """The clock's upkeep: alert on-call about unclaimed overdue emergencies (once each), and
    queue again any forward whose job was lost; `--every` keeps doing it."""
    from intake.forwarding import reconcile
    from intake.runtime import Runtime
    from intake.sla import check_overdue

    settings, embedded = _with_redis(_settings("clock"))
    rt = Runtime.build(settings, channels.registry())
    try:
        while True:
            for reference in check_overdue(rt):
                print(f"alerted on-call about {reference}", flush=True)
            for reference in reconcile(rt):
                print(f"queued the forward of {reference} again", flush=True)
            rt.store.seal()  # the audit trail's hash chain (intake.store.audit)
            _daily_retention(rt)
            if not args.every:
                return 0
            time.sleep(args.every)
    finally:
        rt.close()
        if embedded:
            embedded.stop()


def _who(args: argparse.Namespace) -> tuple[str, str]:
    for kind in ("phone", "email", "reference"):
        value = getattr(args, kind, None)
        if value:
            return kind, value
    raise ValueError("name the person: --phone, --email or --reference")


def _daily_retention(rt: Runtime) -> None:
    """The clock's daily retention run (once a day for the installation)."""
    from redis.exceptions import RedisError

    from intake.privacy import retention

    try:
        if retention.due_today(rt.settings, rt.redis):
            counts = retention.run(rt.settings, rt.store)
            print(f"retention: {counts}", flush=True)
    except (RedisError, ConfigError) as exc:
        log.error("retention did not run: %s", exc)


def cmd_retention(args: argparse.Namespace) -> int:
    """`intake privacy retention [--dry-run]`: apply the retention schedule now (or count)."""
    from intake.privacy import retention

    store = _user_store()
    try:
        counts = retention.run(load_settings(), store, dry_run=args.dry_run, actor=_cli_actor())
    finally:
        store.dispose()
    verb = "would go" if args.dry_run else "done"
    width = max((len(k) for k in counts), default=0)
    print(f"retention ({verb}):")
    for kind, count in counts.items():
        print(f"  {kind:{width}} {count}")
    return 0


def cmd_export_person(args: argparse.Namespace) -> int:
    """`intake privacy export --phone|--email|--reference --out FILE.zip`: subject access."""
    from intake.privacy import access

    settings = load_settings()
    store = _user_store()
    try:
        kind, value = _who(args)
        with open(args.out, "wb") as out:
            document = access.write_archive(settings, store, kind, value, out)
        store.audit(
            _cli_actor(),
            "privacy.exported",
            detail={"kind": kind, "referrals": len(document["referrals"])},
        )
    except (ValueError, LookupError) as exc:
        if os.path.exists(args.out):
            os.unlink(args.out)  # not a half-written archive
        print(f"intake privacy export: {exc}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    parties = sum(len(r["third_parties"]) for r in document["referrals"])
    print(
        f"wrote {args.out}: {len(document['referrals'])} referral(s); "
        f"{parties} third-party detail(s) listed for redaction before you send it"
    )
    return 0


def cmd_reencrypt(args: argparse.Namespace) -> int:
    """`intake privacy reencrypt`: write every encrypted value again with the newest key and
    rebuild the search index (after a key rotation, or to encrypt data stored before)."""
    store = _user_store()
    try:
        counts = store.rekey.reencrypt()
        indexed = store.search.rebuild()
        store.audit(_cli_actor(), "privacy.reencrypted", detail={"rows": counts})
    finally:
        store.dispose()
    print("re-encrypted: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"search index rebuilt for {indexed} referrals")
    return 0


PG_GUIDANCE = (
    "DATABASE_URL is PostgreSQL: back it up with PostgreSQL's tools, e.g.\n"
    '  pg_dump --format=custom --file intake-$(date +%F).dump "$DATABASE_URL"\n'
    "and restore into an empty database with\n"
    '  pg_restore --clean --if-exists --no-owner --dbname "$DATABASE_URL" intake-DATE.dump\n'
    "(see the README's Backups section)"
)


def cmd_backup(args: argparse.Namespace) -> int:
    """`intake backup --out FILE`: a consistent copy of the SQLite database while it runs."""
    from pathlib import Path

    from intake.store import backup

    store = _user_store()
    try:
        size = backup.backup(store.engine, Path(args.out))
        store.audit(_cli_actor(), "database.backed_up", detail={"bytes": size})
    except backup.NotSQLite:
        print(PG_GUIDANCE, file=sys.stderr)
        return 2
    except (FileExistsError, ValueError) as exc:
        print(f"intake backup: {exc}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    print(f"backed up to {args.out} ({size:,} bytes); the encryption keys are not in it")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """`intake restore FILE --yes`: replace the SQLite database with a backup (stop intake
    first), then bring its schema up to date."""
    from pathlib import Path

    from intake.store import backup

    if not args.yes:
        print(
            "intake restore replaces every referral with the backup's: stop intake, then "
            "run it again with --yes",
            file=sys.stderr,
        )
        return 1
    store = _user_store()
    try:
        backup.restore(store.engine, Path(args.file))
        store.upgrade()
        count = store.count_referrals()
        store.audit(_cli_actor(), "database.restored", detail={"referrals": count})
    except backup.NotSQLite:
        print(PG_GUIDANCE, file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"intake restore: {exc}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    print(f"restored {args.file}: {count} referrals")
    return 0


def cmd_hold(args: argparse.Namespace) -> int:
    """`intake privacy hold REF --reason TEXT` / `--release`: legal hold on a referral."""
    store = _user_store()
    try:
        referral_id = store.privacy.id_for_reference(args.reference)
        if referral_id is None:
            print(f"intake privacy hold: no referral {args.reference.upper()}", file=sys.stderr)
            return 1
        if not args.release and not (args.reason or "").strip():
            print("intake privacy hold: give --reason (or --release)", file=sys.stderr)
            return 1
        store.privacy.set_legal_hold(referral_id, not args.release, args.reason)
        action = "privacy.hold_released" if args.release else "privacy.hold_placed"
        store.audit(_cli_actor(), action, referral_id=referral_id, detail={})
    finally:
        store.dispose()
    state = "released from legal hold" if args.release else "on legal hold"
    print(f"{args.reference.upper()} is {state}")
    return 0


def cmd_verify_audit(args: argparse.Namespace) -> int:
    """`intake privacy verify-audit`: seal new audit rows (unless `--no-seal`), check the hash
    chain, print the first broken link or the head hash; exit 0 when whole, 1 when broken."""
    store = _user_store()
    try:
        sealed = 0 if args.no_seal else store.seal()
        report = store.verify()
    finally:
        store.dispose()
    if sealed:
        print(f"sealed {sealed} new audit rows")
    if report.unsealed:
        print(f"{report.unsealed} rows not sealed yet (the clock seals them every minute)")
    if not report.ok:
        print(f"audit chain BROKEN at {report.broken} ({report.checked} rows before it verify)")
        return 1
    start = f" from seq {report.first_seq}" if report.first_seq and report.first_seq > 1 else ""
    print(f"audit chain verified: {report.checked} rows{start}; head {report.head or '-'}")
    return 0


def cmd_privacy(args: argparse.Namespace) -> int:
    """`intake privacy erase ...`: data protection requests, carried out by an operator with
    server access (audited as `cli:<operating-system user>`)."""
    from intake.privacy import erasure
    from intake.runtime import Runtime

    settings, embedded = _with_redis(_settings("privacy"))
    rt = Runtime.build(settings, channels.registry())
    try:
        kind, value = _who(args)
        planned = erasure.plan(rt.store, kind, value)
        if not planned.erased and not planned.mentioned:
            print("nothing found for that person: nothing erased")
            return 0
        print(f"referrals to erase: {len(planned.erased)} {' '.join(planned.references)}")
        if planned.held:
            print(f"on legal hold (erased all the same): {' '.join(planned.held)}")
        if planned.mentioned:
            print(
                f"referrals about others that mention them (mentions blanked): "
                f"{len(planned.mentioned)}"
            )
        if not args.yes:
            answer = input("type ERASE to erase them, anything else to stop: ")
            if answer.strip() != "ERASE":
                print("stopped: nothing erased")
                return 1
        counts = erasure.erase(rt, planned, actor=_cli_actor(), reason=args.reason)
        print("erased: " + ", ".join(f"{k} {v}" for k, v in counts.as_dict().items()))
        return 0
    except (ValueError, LookupError) as exc:
        print(f"intake privacy {args.privacy_command}: {exc}", file=sys.stderr)
        return 1
    finally:
        rt.close()
        if embedded:
            embedded.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intake", description="Referral intake for advocacy services."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    add("run", cmd_run, "start web, SMTP and a worker together (what `make run` does)")
    web = add("web", cmd_web, "serve the web app: Twilio webhooks, API, dashboard")
    web.add_argument("--host")
    web.add_argument("--port", type=int)
    add("smtp", cmd_smtp, "serve the SMTP server that takes referral emails")
    worker = add("worker", cmd_worker, "run an RQ worker (high queue first)")
    worker.add_argument("--burst", action="store_true", help="drain the queues, then exit")
    kind = worker.add_mutually_exclusive_group()
    kind.add_argument("--simple", action="store_true", help="run jobs in-process (the default)")
    kind.add_argument(
        "--fork", action="store_true", help="fork a child per job (isolation at ~3x the CPU)"
    )
    screen = add("screen", cmd_screen, "screen a message from stdin, print JSON")
    screen.add_argument("--jsonl", action="store_true", help='read JSON lines with a "text" field')
    extract = add("extract", cmd_extract, "extract referral fields from a message on stdin")
    extract.add_argument("--jsonl", action="store_true", help='read JSON lines with a "text" field')
    extract.add_argument("--channel", default="sms", choices=["sms", "email", "voice", "voicemail"])
    evaluate = add(
        "eval", cmd_eval, "score screening, extraction, eligibility or language on a labelled file"
    )
    evaluate.add_argument("kind", choices=["screening", "extraction", "eligibility", "language"])
    evaluate.add_argument("file")
    user = sub.add_parser("user", help="manage dashboard accounts").add_subparsers(
        dest="user_command", required=True
    )
    roles = ["volunteer", "advocate", "manager", "admin"]
    user.add_parser("list", help="list the accounts").set_defaults(func=cmd_user)
    user_add = user.add_parser("add", help="create a dashboard account")
    user_add.set_defaults(func=cmd_user)
    user_add.add_argument("email")
    user_add.add_argument("--role", required=True, choices=roles)
    user_add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    for name, text in (
        ("disable", "disable an account and end its sessions"),
        ("enable", "enable a disabled account"),
        ("unlock", "let a locked-out account log in again at once"),
        ("reset-totp", "clear a lost second factor (it is set up again at the next log-in)"),
    ):
        one = user.add_parser(name, help=text)
        one.set_defaults(func=cmd_user)
        one.add_argument("email")
    reset = user.add_parser("reset-password", help="set a new password and end its sessions")
    reset.set_defaults(func=cmd_user)
    reset.add_argument("email")
    how = reset.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read it from standard input")
    how.add_argument("--generate", action="store_true", help="make a random one and print it")
    set_role = user.add_parser("set-role", help="change an account's role")
    set_role.set_defaults(func=cmd_user)
    set_role.add_argument("email")
    set_role.add_argument("role", choices=roles)
    export = sub.add_parser("export", help="export data for other tools").add_subparsers(
        dest="export_command", required=True
    )
    corrections = export.add_parser(
        "corrections", help="advocates' screening corrections as JSON lines, for retraining"
    )
    corrections.set_defaults(func=cmd_export)
    corrections.add_argument("--out", required=True, help="the file to write")
    demo = add("demo", cmd_demo, "try intake locally: stand-ins for Twilio and mail, samples")
    demo.add_argument("--data-dir", help="keep the demo's data here (default: a new temp folder)")
    demo.add_argument("--port", type=int, default=0, help="web port (default: 8000 if free)")
    demo.add_argument("--exit-after", type=float, default=None, help=argparse.SUPPRESS)
    db = sub.add_parser("db", help="the database schema (migrations)").add_subparsers(
        dest="db_command", required=True
    )
    db_upgrade = db.add_parser("upgrade", help="apply the schema migrations")
    db_upgrade.set_defaults(func=cmd_db)
    db_upgrade.add_argument("revision", nargs="?", default="head")
    db.add_parser("current", help="show the schema's revision").set_defaults(func=cmd_db)
    sla_check = add(
        "sla-check",
        cmd_sla_check,
        "the clock: alert on-call about overdue unclaimed emergencies, re-queue lost forwards",
    )
    sla_check.add_argument("--every", type=int, default=0, help="repeat every N seconds")
    forward = sub.add_parser("forward", help="the case systems referrals are forwarded to")
    forward_sub = forward.add_subparsers(dest="forward_command", required=True)
    forward_test = forward_sub.add_parser(
        "test",
        help="send a made-up referral to the configured case system(s) and print the answers",
    )
    forward_test.set_defaults(func=cmd_forward_test)
    forward_test.add_argument(
        "--target", action="append", help="a forwarder to try (repeatable; default: CASE_SYSTEM)"
    )
    forward_test.add_argument(
        "--type", default="imca", help="the sample's advocacy type (imha, imca, care_act, ...)"
    )
    privacy = sub.add_parser(
        "privacy", help="data protection: erasure, retention, the audit chain (UK GDPR)"
    ).add_subparsers(dest="privacy_command", required=True)
    erase = privacy.add_parser(
        "erase",
        help="erase a person everywhere: every referral they sent or are the subject of",
    )
    erase.set_defaults(func=cmd_privacy)
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--phone", help="their phone number")
    who.add_argument("--email", help="their email address")
    who.add_argument(
        "--reference", help="a referral: the person it is from and the person it is about"
    )
    erase.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    erase.add_argument("--yes", action="store_true", help="do not ask before erasing")
    export_person = privacy.add_parser(
        "export", help="subject access: everything held about a person, as a zip (JSON + HTML)"
    )
    export_person.set_defaults(func=cmd_export_person)
    export_who = export_person.add_mutually_exclusive_group(required=True)
    export_who.add_argument("--phone", help="their phone number")
    export_who.add_argument("--email", help="their email address")
    export_who.add_argument("--reference", help="a referral: the person it is from and about")
    export_person.add_argument("--out", required=True, help="the zip file to write")
    retention_cmd = privacy.add_parser(
        "retention", help="apply the retention schedule now (the clock does it daily)"
    )
    retention_cmd.set_defaults(func=cmd_retention)
    retention_cmd.add_argument(
        "--dry-run", action="store_true", help="only count what would be deleted or anonymised"
    )
    privacy.add_parser(
        "reencrypt", help="encrypt everything again with the newest key; rebuild the search index"
    ).set_defaults(func=cmd_reencrypt)
    hold = privacy.add_parser(
        "hold", help="put a referral on legal hold (retention leaves it alone), or --release"
    )
    hold.set_defaults(func=cmd_hold)
    hold.add_argument("reference")
    hold_how = hold.add_mutually_exclusive_group(required=True)
    hold_how.add_argument("--reason", help="why it must be kept (a claim, an inquiry)")
    hold_how.add_argument("--release", action="store_true", help="end the hold")
    verify_audit = privacy.add_parser(
        "verify-audit", help="check the audit trail's hash chain; print the first broken link"
    )
    verify_audit.set_defaults(func=cmd_verify_audit)
    verify_audit.add_argument(
        "--no-seal", action="store_true", help="check only: do not seal new rows first"
    )
    backup_cmd = add("backup", cmd_backup, "copy the SQLite database while it runs (online backup)")
    backup_cmd.add_argument("--out", required=True, help="the new backup file")
    restore_cmd = add("restore", cmd_restore, "replace the SQLite database with a backup")
    restore_cmd.add_argument("file", help="a file made by intake backup")
    restore_cmd.add_argument("--yes", action="store_true", help="intake is stopped: go ahead")
    replay = add("replay", cmd_replay, "resend referrals that failed to reach the case system")
    replay.add_argument("references", nargs="*", metavar="REFERENCE")
    replay.add_argument("--all-failed", action="store_true", help="every failed referral")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = os.environ.get("LOG_LEVEL", "INFO")
    try:
        if level.upper() not in settings_check.LOG_LEVELS:
            known = ", ".join(settings_check.LOG_LEVELS)
            raise ConfigError(f"LOG_LEVEL must be one of {known}, not {level!r}")
        if args.command not in ("screen", "extract", "eval"):
            _logging(level)
        return int(args.func(args) or 0)
    except ConfigError as exc:
        # One clear line, and the process does not start (issue 15).
        print(f"intake: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
