"""The database unavailable: jobs retry, nothing is half-written.

PostgreSQL is reached through a TCP proxy the test switches off (new connections refused, open
ones cut) and on again. While it is off, SMS webhooks still answer 200 (the web process writes
nothing on the request; Redis takes the message), the worker's jobs fail and wait in RQ's
scheduled-job registry for their retry, nothing is acknowledged, and `/healthz` says 503. Once
it is back, the due retries are run (RQ's own scheduler, with the clock moved instead of waiting)
and every accepted text ends up as exactly one referral with one acknowledgement.

"Nothing half-written" is proved with a trigger that makes the `messages` INSERT fail for chosen
MessageSids: the referral inserted just before it in the same transaction must be rolled back with
it, and the retry must create both. SQLite gets the same check with a SQLite trigger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.scheduler import RQScheduler

import channels
from intake import runtime as runtime_module
from intake.config import Settings
from intake.queue import RECEIVE, queues
from intake.runtime import Runtime
from intake.store import Store, normalise_url
from intake.web.app import create_app
from tests.conftest import ACCOUNT_SID, FROM_NUMBER
from tests.faults.tcp_proxy import TcpProxy
from tests.support.servers import serve
from tests.support.twilio_signing import post_signed
from tests.support.twilio_standin import TwilioStandIn
from worker import build_worker

BODIES = (
    "Hi, my dad has dementia and the care home want a best interests meeting next week. "
    "Can an advocate come?",
    "I'm on a section 2 at the moment and want help with my tribunal please",
    "Hello, my sister has a learning disability and her care package is being cut. "
    "Who can help us challenge it?",
    "Can someone ring me about a complaint against my GP surgery, it's about my mum's care",
    "I need an advocate for my Care Act assessment on Thursday, I have autism",
)

# Installed by the test, dropped after it: fails the `messages` INSERT for the MessageSids
# listed in `fault_fail_messages`, and counts every INSERT it saw in a sequence (sequences are
# not rolled back, so the count survives the failed transaction and proves the insert was tried).
PG_FAULT_DDL = (
    "CREATE TABLE fault_fail_messages (provider_id text PRIMARY KEY)",
    "CREATE SEQUENCE fault_message_attempts",
    """
    CREATE FUNCTION fault_fail_message() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM nextval('fault_message_attempts');
        IF EXISTS (SELECT 1 FROM fault_fail_messages WHERE provider_id = NEW.provider_id) THEN
            RAISE EXCEPTION 'injected fault: message % not stored', NEW.provider_id;
        END IF;
        RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER fault_fail_message BEFORE INSERT ON messages "
    "FOR EACH ROW EXECUTE FUNCTION fault_fail_message()",
)
PG_FAULT_DROP = (
    "DROP TRIGGER IF EXISTS fault_fail_message ON messages",
    "DROP FUNCTION IF EXISTS fault_fail_message()",
    "DROP SEQUENCE IF EXISTS fault_message_attempts",
    "DROP TABLE IF EXISTS fault_fail_messages",
)

SQLITE_FAULT_DDL = (
    "CREATE TABLE fault_fail_messages (provider_id TEXT PRIMARY KEY)",
    "CREATE TRIGGER fault_fail_message BEFORE INSERT ON messages "
    "WHEN EXISTS (SELECT 1 FROM fault_fail_messages WHERE provider_id = NEW.provider_id) "
    "BEGIN SELECT RAISE(ABORT, 'injected fault: message not stored'); END",
)

# Referrals without any message: what a half-written referral would look like.
ORPHANS = sa.text(
    "SELECT r.id FROM referrals r LEFT JOIN messages m ON m.referral_id = r.id WHERE m.id IS NULL"
)


def text(i: int) -> dict[str, str]:
    return {
        "MessageSid": f"SMdb{i:030d}",
        "AccountSid": ACCOUNT_SID,
        "From": f"+4477009{i + 100:05d}",
        "To": FROM_NUMBER,
        "Body": BODIES[i % len(BODIES)],
    }


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def direct(postgres_url: str) -> Iterator[sa.Engine]:
    """The test's own way into PostgreSQL, around the proxy; fresh tables, dropped after."""
    store = Store.from_url(postgres_url)
    with store.engine.begin() as conn:
        for statement in PG_FAULT_DROP[1:]:  # no messages table yet for the trigger's DROP
            conn.execute(sa.text(statement))
    store.drop_schema()
    store.upgrade()
    yield store.engine
    with store.engine.begin() as conn:
        for statement in PG_FAULT_DROP:
            conn.execute(sa.text(statement))
    store.drop_schema()
    store.dispose()


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = sa.engine.make_url(normalise_url(postgres_url))
    tcp = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    tcp.up()
    yield tcp
    tcp.down()


@pytest.fixture
def pg_runtime(
    settings: Settings, postgres_url: str, proxy: TcpProxy, direct: sa.Engine
) -> Iterator[Runtime]:
    """Web and worker both reach PostgreSQL only through the proxy."""
    url = sa.engine.make_url(normalise_url(postgres_url)).set(host="127.0.0.1", port=proxy.port)
    rt = Runtime.build(
        settings.with_(database_url=url.render_as_string(hide_password=False)), channels.registry()
    )
    runtime_module.install(rt)
    yield rt
    runtime_module.install(None)
    rt.close()


# -- helpers ------------------------------------------------------------------------------------


def drain(rt: Runtime) -> None:
    """A real RQ worker (in-process, so it uses this runtime) runs what is on the queues."""
    build_worker(rt, simple=True).work(burst=True)


def scheduled(rt: Runtime) -> dict[str, Job]:
    jobs: dict[str, Job] = {}
    for queue in queues(rt.settings, rt.redis):
        for job_id in ScheduledJobRegistry(queue=queue).get_job_ids():
            jobs[job_id] = Job.fetch(job_id, connection=rt.redis)
    return jobs


def failed_for_good(rt: Runtime) -> list[str]:
    return [
        job_id
        for queue in queues(rt.settings, rt.redis)
        for job_id in FailedJobRegistry(queue=queue).get_job_ids()
    ]


def run_due_retries(rt: Runtime) -> int:
    """Make every scheduled retry due now and let RQ's own scheduler put it back on its queue
    (what the worker's scheduler does once the pause is over), instead of sleeping through it."""
    moved = 0
    past = datetime.now(UTC) - timedelta(seconds=1)
    qs: list[Queue] = queues(rt.settings, rt.redis)
    for queue in qs:
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            registry.schedule(Job.fetch(job_id, connection=rt.redis), past)
            moved += 1
    scheduler = RQScheduler([q.name for q in qs], connection=rt.redis)
    assert scheduler.acquire_locks() == {q.name for q in qs}  # no other scheduler on our queues
    try:
        scheduler.enqueue_scheduled_jobs()
    finally:
        scheduler.release_locks()
        scheduler.connection.close()
    return moved


def inbound_jobs(rt: Runtime, jobs: dict[str, Job]) -> dict[str, Job]:
    """The scheduled jobs that are inbound messages, by MessageSid."""
    return {
        job.args[1]["provider_id"]: job
        for job in jobs.values()
        if job.func_name == RECEIVE and job.args[0] == "sms"
    }


def stored_sids(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.text("SELECT provider_id FROM messages")).scalars())


def orphans(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(ORPHANS).scalars())


def sending_left(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM outbound WHERE status = 'sending'"))
        return [dict(row._mapping) for row in rows]


def acked(twilio: TwilioStandIn) -> list[str]:
    return sorted(m.value("To") for m in twilio.messages)


# -- PostgreSQL: an outage, then a failure inside the referral's transaction -------------------


@pytest.mark.slow
@pytest.mark.postgres
def test_database_outage_jobs_retry_and_nothing_is_half_written(
    pg_runtime: Runtime,
    proxy: TcpProxy,
    direct: sa.Engine,
    twilio: TwilioStandIn,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rt = pg_runtime
    token = rt.settings.twilio_auth_token
    with serve(create_app(rt)) as url:
        hook = url + "/twilio/sms"

        # Before: one text goes all the way, so the pools hold live connections to be cut.
        assert post_signed(http, hook, text(0), token).status_code == 200
        drain(rt)
        assert stored_sids(direct) == [text(0)["MessageSid"]]
        assert acked(twilio) == [text(0)["From"]]

        proxy.down()
        # The door stays open: the webhook writes nothing to the database.
        assert [post_signed(http, hook, text(i), token).status_code for i in (1, 2, 3)] == [200] * 3
        health = http.get(url + "/healthz")
        assert health.status_code == 503
        assert health.json()["database"].startswith("unreachable")
        assert health.json()["redis"] == "ok"

        drain(rt)  # every job fails on the database ...
        waiting = inbound_jobs(rt, scheduled(rt))
        # ... and waits for its retry rather than being lost or failed for good
        assert sorted(waiting) == sorted(text(i)["MessageSid"] for i in (1, 2, 3))
        for job in waiting.values():
            assert job.get_status(refresh=True) == JobStatus.SCHEDULED
            assert job.retries_left == 4  # the first of five retries is used
        assert failed_for_good(rt) == []
        # RQ keeps no result for a retried failure; its worker logs why the job failed.
        assert "Connection refused" in caplog.text
        for queue in queues(rt.settings, rt.redis):
            assert queue.count == 0
            registry = ScheduledJobRegistry(queue=queue)
            for job_id in registry.get_job_ids():  # a pause before the retry, not a busy loop
                assert registry.get_scheduled_time(job_id) > datetime.now(UTC)
        assert stored_sids(direct) == [text(0)["MessageSid"]]  # nothing written while down
        assert acked(twilio) == [text(0)["From"]]  # nothing acknowledged that was not stored

        # The database comes back, but text 2's message INSERT will fail inside its transaction.
        with direct.begin() as conn:
            for statement in PG_FAULT_DDL:
                conn.execute(sa.text(statement))
            conn.execute(
                sa.text("INSERT INTO fault_fail_messages VALUES (:sid)"),
                {"sid": text(2)["MessageSid"]},
            )
        proxy.up()
        assert http.get(url + "/healthz").status_code == 200

        assert run_due_retries(rt) == 3
        drain(rt)
        with direct.connect() as conn:
            attempts = conn.execute(sa.text("SELECT last_value FROM fault_message_attempts"))
            assert attempts.scalar_one() >= 3  # text 2's INSERT was reached, and failed
        assert orphans(direct) == []  # its referral was rolled back with it
        assert stored_sids(direct) == sorted(text(i)["MessageSid"] for i in (0, 1, 3))
        assert acked(twilio) == sorted(text(i)["From"] for i in (0, 1, 3))
        assert sending_left(direct) == []
        [again] = inbound_jobs(rt, scheduled(rt)).values()
        assert again.args[1]["provider_id"] == text(2)["MessageSid"]
        assert again.retries_left == 3
        assert "injected fault: message SMdb" in caplog.text

        # Fault cleared: the next retry stores the referral and its message together.
        with direct.begin() as conn:
            conn.execute(sa.text("DELETE FROM fault_fail_messages"))
        assert run_due_retries(rt) == 1
        drain(rt)
        # Twilio delivers text 1 once more: still one referral, no second acknowledgement.
        assert post_signed(http, hook, text(1), token).status_code == 200
        drain(rt)

    _assert_each_processed_once(rt, direct, twilio, range(4))
    assert again.get_status(refresh=True) == JobStatus.FINISHED


def _assert_each_processed_once(
    rt: Runtime, engine: sa.Engine, twilio: TwilioStandIn, numbers: range
) -> None:
    sids = sorted(text(i)["MessageSid"] for i in numbers)
    assert stored_sids(engine) == sids  # one message row per MessageSid
    referrals = rt.store.list_referrals(limit=100)
    assert sorted(r.sender for r in referrals) == sorted(text(i)["From"] for i in numbers)
    for referral in referrals:
        assert len(rt.store.messages_for(referral.id or 0)) == 1
        [ack] = [o for o in rt.store.outbound_for(referral.id or 0) if o["kind"] == "ack"]
        assert ack["status"] == "sent"
    assert acked(twilio) == sorted(text(i)["From"] for i in numbers)  # one each, none twice
    assert orphans(engine) == []
    assert sending_left(engine) == []
    assert scheduled(rt) == {}
    assert failed_for_good(rt) == []


# -- SQLite: the same transaction check ------------------------------------------------------


@pytest.mark.slow
def test_sqlite_message_insert_failing_leaves_no_referral_and_the_retry_stores_both(
    runtime: Runtime, twilio: TwilioStandIn, http: httpx.Client
) -> None:
    rt = runtime
    engine = sa.create_engine(rt.settings.effective_database_url)
    with engine.begin() as conn:
        for statement in SQLITE_FAULT_DDL:
            conn.execute(sa.text(statement))
        conn.execute(
            sa.text("INSERT INTO fault_fail_messages VALUES (:sid)"), {"sid": text(5)["MessageSid"]}
        )
    try:
        with serve(create_app(rt)) as url:
            token = rt.settings.twilio_auth_token
            for i in (5, 6):
                assert post_signed(http, url + "/twilio/sms", text(i), token).status_code == 200
            drain(rt)
            assert orphans(engine) == []
            assert stored_sids(engine) == [text(6)["MessageSid"]]
            assert acked(twilio) == [text(6)["From"]]
            assert sending_left(engine) == []
            [waiting] = inbound_jobs(rt, scheduled(rt)).values()
            assert waiting.args[1]["provider_id"] == text(5)["MessageSid"]
            assert waiting.retries_left == 4

            with engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM fault_fail_messages"))
            assert run_due_retries(rt) == 1
            drain(rt)
        _assert_each_processed_once(rt, engine, twilio, range(5, 7))
    finally:
        engine.dispose()


# -- PostgreSQL: the connection drops right after the acknowledgement is claimed ---------------


def after_the_claim() -> Callable[[bytes], bool]:
    """A tripwire for the first statement after the acknowledgement's claim is committed."""
    stage = 0

    def trip(chunk: bytes) -> bool:
        nonlocal stage
        if stage == 0 and b"INSERT INTO outbound" in chunk:
            stage = 1
        elif stage == 1 and b"COMMIT" in chunk:
            stage = 2
        elif stage == 2:
            return True
        return False

    return trip


@pytest.mark.slow
@pytest.mark.postgres
def test_connection_lost_after_the_ack_is_claimed_still_texts_once(
    pg_runtime: Runtime,
    proxy: TcpProxy,
    direct: sa.Engine,
    twilio: TwilioStandIn,
    http: httpx.Client,
) -> None:
    rt = pg_runtime
    with serve(create_app(rt)) as url:
        status = post_signed(http, url + "/twilio/sms", text(7), rt.settings.twilio_auth_token)
        assert status.status_code == 200
    proxy.tripwire = after_the_claim()
    drain(rt)
    assert proxy.tripped.is_set()
    [waiting] = inbound_jobs(rt, scheduled(rt)).values()  # the job failed and waits to retry
    assert waiting.retries_left == 4
    assert stored_sids(direct) == [text(7)["MessageSid"]]  # the referral itself was stored

    proxy.up()
    assert run_due_retries(rt) == 1
    drain(rt)

    # Whatever the claim was followed by, the text goes exactly once: never zero times
    # because a claim outlived a failure before the send, never twice because of the retry.
    assert acked(twilio) == [text(7)["From"]]
    [referral] = rt.store.list_referrals()
    [ack] = rt.store.outbound_for(referral.id or 0)
    # Twilio took it but its answer could not be recorded: the row stays `sending` for a person
    # to see (at most once, as the README says), and the retry did not send it again.
    assert ack["status"] == "sending"
    assert waiting.get_status(refresh=True) == JobStatus.FINISHED
    assert scheduled(rt) == {} and failed_for_good(rt) == []
