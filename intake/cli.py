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

if TYPE_CHECKING:
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

    store = Store.from_url(settings.effective_database_url)
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
    store = Store.from_url(settings.effective_database_url)
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
    store = Store.from_url(settings.effective_database_url)
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
            if not args.every:
                return 0
            time.sleep(args.every)
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
    evaluate = add("eval", cmd_eval, "score screening or extraction against a labelled file")
    evaluate.add_argument("kind", choices=["screening", "extraction"])
    evaluate.add_argument("file")
    user = sub.add_parser("user", help="manage dashboard accounts").add_subparsers(
        dest="user_command", required=True
    )
    roles = ["advocate", "manager", "admin"]
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
