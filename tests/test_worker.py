"""The worker's start-up: what it pre-loads before forking must change nothing in the database."""

from __future__ import annotations

import sqlalchemy as sa

from intake.runtime import Runtime
from intake.store.schema import metadata
from worker import build_worker, warm_statement_cache, warm_up_jobs


def _row_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.store.engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in metadata.tables.items()
        }


def test_warming_up_writes_nothing_and_jobs_still_work(runtime: Runtime) -> None:
    before = _row_counts(runtime)
    warm_up_jobs(runtime)
    warm_statement_cache(runtime)
    assert _row_counts(runtime) == before

    from intake.models import InboundMessage
    from intake.queue import enqueue_message

    message = InboundMessage("sms", "SM" + "c" * 32, "+447700900321", "+447700900001", "hello")
    enqueue_message(runtime.settings, runtime.redis, message, priority="default")
    build_worker(runtime, simple=True).work(burst=True)
    assert runtime.store.find_referral_for_message("sms", message.provider_id) is not None


def test_the_worker_reads_high_before_default(runtime: Runtime) -> None:
    names = [q.name for q in build_worker(runtime, simple=True).queues]
    prefix = runtime.settings.queue_prefix
    assert names == [f"{prefix}-high", f"{prefix}-default"]


def test_jobs_run_in_process_by_default_and_fork_on_request(runtime: Runtime) -> None:
    """The default class was chosen by measurement (issue 20); `--fork` keeps RQ's Worker, and
    both keep the deadline that stops a job running past its time."""
    from rq import SimpleWorker, Worker

    from intake.queue import DeadlinePenalty

    default, forking = build_worker(runtime), build_worker(runtime, simple=False)
    assert type(default) is SimpleWorker
    assert type(forking) is Worker
    assert default.death_penalty_class is DeadlinePenalty
    assert forking.death_penalty_class is DeadlinePenalty
