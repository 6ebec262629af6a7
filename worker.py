"""The RQ worker entry: `intake worker` (and the Procfile's `worker` process) runs this.

It reads the `high` queue before `default`, and runs RQ's scheduler so that jobs retried with a
pause (`Retry(interval=...)`) and delayed jobs (voicemail transcripts that never arrive) run.
"""

from __future__ import annotations

import argparse
import logging

from rq import SimpleWorker, Worker

from intake import runtime
from intake.config import load_settings
from intake.queue import queues
from intake.runtime import Runtime
from intake.screening import warm_up


def build_worker(rt: Runtime, *, simple: bool = False, name: str | None = None) -> Worker:
    """A worker on this runtime's queues; `simple` runs jobs in-process instead of forking."""
    cls = SimpleWorker if simple else Worker
    # Job arguments carry message bodies: never let RQ print them in its INFO log lines.
    return cls(
        queues(rt.settings, rt.redis),
        connection=rt.redis,
        name=name,
        log_job_description=False,
        # RQ finds jobs abandoned by a dead worker when it cleans its registries; every minute
        # rather than every ten, so a crashed worker's message is retried within minutes.
        maintenance_interval=60,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intake worker", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="drain the queues, then exit")
    parser.add_argument("--simple", action="store_true", help="run jobs in-process (no fork)")
    parser.add_argument("--name", help="worker name shown in RQ's registries")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    rt = Runtime.build(load_settings())
    runtime.install(rt)
    warm_up()  # compiled once here, inherited by every forked job
    worker = build_worker(rt, simple=args.simple, name=args.name)
    worker.work(burst=args.burst, with_scheduler=True, logging_level="INFO")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
