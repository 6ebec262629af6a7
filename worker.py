"""The RQ worker entry: `intake worker` (and the Procfile's `worker` process) runs this.

Jobs run in the worker's own process (RQ's `SimpleWorker`; `--fork` for a child per job: see
`build_worker` for why and what each isolates). It reads the `high` queue before `default`, and
runs RQ's scheduler so that jobs retried with a pause (`Retry(interval=...)`) and delayed jobs
(voicemail transcripts that never arrive) run.
A composition root: the runtime its jobs use is built here with `channels.registry()`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import timedelta

from rq import SimpleWorker, Worker

import channels
from intake import runtime, settings_check
from intake.config import ConfigError, load_settings
from intake.queue import DeadlinePenalty, queues
from intake.runtime import Runtime
from intake.screening import warm_up


def warm_up_jobs(rt: Runtime) -> None:
    """Pay the pipeline's one-off costs in the parent, so forked jobs inherit them.

    A forking `Worker` runs each job in a fresh child that exits afterwards: anything a job loads
    lazily is loaded again for every job. Measured on a 2-core machine, the first referral in a
    process took about 160-220 ms against 22 ms for the next ones, nearly all of it importing
    Twilio's REST client (~145 ms) and compiling the extraction vocabularies (~60 ms).
    """
    # The job functions' modules: a child that imports intake.tasks itself pays ~160 ms per job
    # (httpx, jinja2, the pipeline's and the channels' whole import tree), measured with
    # cProfile in the horse. `intake.tasks` imports every channel.
    import intake.tasks  # noqa: F401
    from intake import extraction
    from intake.templating import environment

    for name in environment(rt.settings.templates_dir).list_templates(extensions=["txt"]):
        environment(rt.settings.templates_dir).get_template(name)  # compiled once, inherited

    warm_up(rt.settings.data_dir / "cache")  # the screening lexicon, model and language detector
    extraction.extract(
        "Referral for Mrs Jane Example, DOB 01/02/1950, NHS number 943 476 5919, lives at "
        "1 High Street, Leeds LS1 4AP, tel 07700 900123, jane@example.org.uk. She has dementia "
        "and needs an IMHA for a care review; please call her daughter, not after 5pm.",
        "email",
        "referrer@example.org.uk",
    )
    if rt.settings.twilio_account_sid and rt.settings.twilio_auth_token:
        from channels.twilio import rest_client

        rest_client(rt.settings).api  # noqa: B018  (the lazy import of Twilio's REST API)


def warm_statement_cache(rt: Runtime) -> None:
    """Run the pipeline's read queries once in the parent, so forked jobs inherit them compiled.

    SQLAlchemy caches each statement's compiled form on the Engine (an LRU of
    `query_cache_size` entries, "SQL Compilation Caching" in its docs), keyed on the statement's
    structure, not its values, and fills it when a statement is first executed. A forked child
    starts with the parent's cache and its own is thrown away when the job ends, so without this
    every job compiled every statement again (~15 statements, ~0.8 ms each, cProfile in the horse).
    Only reads, with values that match nothing (or, for the merge pools, are only read): nothing
    is written. The writes (a few INSERT/UPDATE shapes) are still compiled once per job.
    """
    from intake import merge
    from intake.models import utcnow

    store, now = rt.store, utcnow()
    phone = "+447700900000"  # Ofcom's range for drama: nobody's number
    store.optouts.is_opted_out(phone)
    store.find_referral_for_message("sms", "warm-up")
    store.get_message("sms", "warm-up")
    window = timedelta(minutes=rt.settings.conversation_window_minutes)
    store.conversations.latest(phone, active_since=now - window, include_closed=True)
    store.conversations.get(0)
    store.forwards.events_for(0)
    store.get_referral_by_id(0)
    store.messages_for(0)
    store.outbound_for(0)
    merge.link_pool(rt, 0)
    store.links.correspondents(0)  # the merge policy's ownership check
    store.message_for_ids("email", ["warm-up"])
    store.get_referral("REF-WARMUP")


def _forget_inherited_connections(rt: Runtime) -> None:
    """In a forked job, drop the pool's parent connections (`Store.after_fork`); redis-py checks
    the pid itself."""
    rt.store.after_fork()


def build_worker(rt: Runtime, *, simple: bool = True, name: str | None = None) -> Worker:
    """A worker on this runtime's queues: jobs in this process (`simple`, the default), or each
    in a forked child (RQ's `Worker`).

    Why in-process by default (issue 20, measured by `make bench`): a fork per job cost about
    three times the CPU of the job itself (236 against 51 ms a referral in the peer comparison;
    a third of the referrals a second on the same core). What the fork isolated is kept otherwise:
    files from the internet are parsed in a sandboxed child with CPU, memory and time limits
    (`intake.documents.sandbox`); a job that runs past its time is stopped by the death penalty
    (`DeadlinePenalty`, a signal in this process); a worker that dies mid-job (a crash, a kill)
    is restarted by its supervisor and RQ requeues what it held (tests/faults). What is not kept:
    a job that leaked memory would leak it into the worker (the bench measures RSS over 10,000
    referrals), and module state a job changes outlives the job. `--fork` restores the fork.
    """
    cls = SimpleWorker if simple else Worker
    # Job arguments carry message bodies: never let RQ print them in its INFO log lines.
    worker = cls(
        queues(rt.settings, rt.redis),
        connection=rt.redis,
        name=name,
        log_job_description=False,
        # RQ finds jobs abandoned by a dead worker when it cleans its registries; every minute
        # rather than every ten, so a crashed worker's message is retried within minutes.
        maintenance_interval=60,
    )
    # A job's timeout raises `JobDeadline`, which no `except Exception` can swallow.
    worker.death_penalty_class = DeadlinePenalty
    return worker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intake worker", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="drain the queues, then exit")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--simple", action="store_true", help="run jobs in this process (the default)"
    )
    kind.add_argument(
        "--fork", action="store_true", help="fork a child per job (RQ's Worker; ~3x the CPU)"
    )
    parser.add_argument("--name", help="worker name shown in RQ's registries")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    settings = load_settings()
    try:
        settings_check.require(settings, "worker")
    except ConfigError as exc:
        print(f"intake worker: configuration error: {exc}", file=sys.stderr)
        return 2
    rt = Runtime.build(settings, channels.registry())
    runtime.install(rt)
    warm_up_jobs(rt)  # loaded once here (and inherited by every forked job with --fork)
    if args.fork:
        warm_statement_cache(rt)
        os.register_at_fork(after_in_child=lambda: _forget_inherited_connections(rt))
    worker = build_worker(rt, simple=not args.fork, name=args.name)
    worker.work(burst=args.burst, with_scheduler=True, logging_level="INFO")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
