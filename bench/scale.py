"""`make bench-scale`: does the store's cost stay flat as it grows? (PostgreSQL only.)

Seeds a database of its own to 1,000, 100,000 and 1,000,000 referrals with `generate_series`
(one INSERT ... SELECT per table, so a million rows take tens of seconds, not hours), and at each
size times the reads a duty desk makes on every page view or message, through the store's own
methods (the SQL the service runs):

- queue page: `Worklist.queue()`, the default view (active referrals, first 50, with counts);
- search: `Worklist.queue(search=...)` for a surname 1 in 2,000 referrals share (500 at 1M: the
  answer grows with the store), and for one referral's reference (an answer that does not);
- API list: `store.list_referrals(limit=50)` (no filter), its first page and a keyset page deep
  into the table (`after=`);
- merge lookup: `store.links.candidates(...)`, the duplicate pool read for every new referral;
- SLA: `worklist.unclaimed_open("emergency")`, read by the SLA alerting.

The seeded store looks like a service after years: the newest ACTIVE_SHARE referrals are open or
triaged, everything older is closed (closing is what advocates do), and every referral has five
search terms (its reference, a surname, a town, a need, a channel word). Each figure is the fastest
of REPEATS runs after one warm-up (see `timed`), with its ratio to the same read at 1,000.

Writes bench/results/scale.json, with EXPLAIN (ANALYZE, BUFFERS) of each read at the largest size.
`python bench/scale.py --sizes 1000,100000` for a shorter run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import RESULTS, database, machine  # noqa: E402

MEMORY_REFERRALS = 10_000
MEMORY_BOUND_MB = 64  # growth allowed between warm-up and 10,000 referrals, per process

SIZES = (1_000, 100_000, 1_000_000)
REPEATS = 25
ACTIVE = 500  # the newest referrals still open or triaged: a busy service's working queue
# `intake.reference`'s alphabet: seeded references are real ones ("REF-" and six of these)
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
SURNAMES = 2_000  # at 1M, each surname is shared by 500 referrals
TOWNS, NEEDS = 300, 40


def word(prefix: str, n: int) -> str:
    """A made-up word for number `n` (letters only: digits would read as a phone number)."""
    letters = ""
    while True:
        n, r = divmod(n, 26)
        letters = chr(97 + r) + letters
        if n == 0:
            return prefix + letters


def vocabulary() -> dict[str, list[str]]:
    """Search words as the index stores them (`search._stored`: a keyed hash with the blind
    index, so the seed goes through it rather than writing words)."""
    from intake.store.search import _stored

    return {
        "surname": [_stored(word("surname", i)) for i in range(SURNAMES)],
        "town": [_stored(word("town", i)) for i in range(TOWNS)],
        "need": [_stored(word("need", i)) for i in range(NEEDS)],
    }


def seed(conn: Any, start: int, stop: int) -> None:
    """Referrals start+1..stop (one INSERT ... SELECT), their search terms, then close all but the
    newest ACTIVE. `g` is the referral's number: newer numbers are newer referrals."""
    import sqlalchemy as sa

    conn.execute(
        sa.text(
            """
            INSERT INTO referrals (reference, channel, sender, received_at, raw_text, urgency,
                urgency_rank, safeguarding, screening, fields, status, forward_status,
                safe_to_contact, created_at, updated_at)
            SELECT 'REF-' || (SELECT string_agg(substr(:alphabet,
                        (g / (30 ^ k)::bigint % 30)::int + 1, 1), '' ORDER BY k DESC)
                    FROM generate_series(0, 5) AS k),
                (ARRAY['sms','email','voice','web'])[1 + g % 4],
                '+4477' || lpad(g::text, 8, '0'),
                now() - make_interval(secs => (:stop - g) * 30),
                'Seeded referral ' || g || ': advocacy for a care review.',
                (ARRAY['emergency','urgent','soon','routine'])[1 + (g % 100 > 0)::int
                    + (g % 100 > 5)::int + (g % 100 > 30)::int],
                (g % 100 > 0)::int + (g % 100 > 5)::int + (g % 100 > 30)::int,
                '[]'::json, '{}'::json,
                json_build_object('name', 'Surname' || lpad((g % :surnames)::text, 4, '0')),
                'open', 'forwarded', true, now(), now()
            FROM generate_series(:start + 1, :stop) AS g
            """
        ),
        {"start": start, "stop": stop, "surnames": SURNAMES, "alphabet": REFERENCE_ALPHABET},
    )
    words = vocabulary()
    for kind, values in words.items():
        conn.execute(sa.text(f"CREATE TEMP TABLE IF NOT EXISTS vocab_{kind} (n int, term text)"))
        conn.execute(sa.text(f"TRUNCATE vocab_{kind}"))
        conn.execute(
            sa.text(f"INSERT INTO vocab_{kind} (n, term) VALUES (:n, :term)"),
            [{"n": i, "term": t} for i, t in enumerate(values)],
        )
    # The referral's number (g) is read back from its text, so the terms agree with it.
    for kind, size, mix in (
        ("surname", SURNAMES, "g"),
        ("town", TOWNS, "g / 7"),
        ("need", NEEDS, "g / 13"),
    ):
        conn.execute(
            sa.text(
                f"""
                INSERT INTO search_terms (term, referral_id)
                SELECT v.term, r.id FROM
                    (SELECT id, split_part(split_part(raw_text, ' ', 3), ':', 1)::int AS g
                     FROM referrals
                     WHERE id > :first) AS r
                JOIN vocab_{kind} v ON v.n = ({mix}) % {size}
                """
            ),
            {"first": start},
        )
    conn.execute(
        sa.text(
            """
            INSERT INTO search_terms (term, referral_id)
            SELECT lower(reference), id FROM referrals WHERE id > :first
            -- a reference's term is its canonical form (`search.terms`); with a blind index
            -- (`search._stored` a keyed hash) this row would need hashing too
            """
        ),
        {"first": start},
    )
    conn.execute(
        sa.text("UPDATE referrals SET status = 'closed' WHERE status <> 'closed' AND id <= :cut"),
        {"cut": stop - ACTIVE},
    )
    conn.execute(
        sa.text("UPDATE referrals SET status = 'triaged' WHERE id > :cut AND id % 3 = 0"),
        {"cut": stop - ACTIVE},
    )


def timed(fn: Callable[[], object]) -> float:
    """The fastest of REPEATS calls after one warm-up, in milliseconds.

    The fastest, not the median: on a shared machine every other figure includes time the
    process spent waiting for a core, which is not the read's cost and differs between sizes
    measured minutes apart (the advice of Python's `timeit` documentation)."""
    fn()
    samples = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return round(min(samples), 3)


def reads(store: Any, size: int) -> dict[str, Callable[[], object]]:
    from intake.models import utcnow
    from intake.store import QueueFilter

    since = utcnow() - timedelta(days=14)  # the merge window's order of magnitude
    surname = word("surname", (size // 3) % SURNAMES)
    # a keyset page halfway through the whole table: what OFFSET would make a scan of
    middle = store.list_referrals(limit=1, offset=size // 2)[0]
    cursor = store.list_cursor(middle)
    out: dict[str, Callable[[], object]] = {
        "queue_page": lambda: store.worklist.queue(QueueFilter(), limit=50),
        "search": lambda: store.worklist.queue(QueueFilter(status="all", search=surname), limit=50),
        # one referral's reference: a search whose answer does not grow with the store
        "search_reference": lambda: store.worklist.queue(
            QueueFilter(status="all", search=middle.reference), limit=50
        ),
        "api_list": lambda: store.list_referrals(limit=50),
        "api_list_deep": lambda: store.list_referrals(limit=50, after=cursor),
        # the same page by OFFSET, for comparison: what keyset pagination avoids
        "api_list_deep_offset": lambda: store.list_referrals(limit=50, offset=size // 2),
        "merge_lookup": lambda: store.links.candidates(since=since, exclude_id=0),
        "sla": lambda: store.worklist.unclaimed_open("emergency"),
    }
    return out


def explain(conn: Any, store: Any, size: int) -> dict[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each read, captured from the SQL the store runs."""
    import sqlalchemy as sa

    captured: dict[str, list[str]] = {}
    statements: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_a: Any) -> None:
        statements.append((statement, parameters))

    for name, fn in reads(store, size).items():
        statements.clear()
        sa.event.listen(store.engine, "before_cursor_execute", listen)
        try:
            fn()
        finally:
            sa.event.remove(store.engine, "before_cursor_execute", listen)
        plans: list[str] = []
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            raw = conn.connection.dbapi_connection
            with raw.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                plans.append("\n".join(r[0] for r in cur.fetchall()))
        captured[name] = plans
    return captured


def rss_mb(pid: int) -> float:
    """Resident set size of a process (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def bench_memory(referrals: int) -> dict[str, Any]:
    """RSS of the web process and of two workers (the default class; the larger is reported)
    after warm-up (200 referrals) and after `referrals` signed webhooks have been stored."""
    import secrets
    import tempfile

    from bench.run import (
        ACCOUNT,
        FROM,
        TOKEN,
        Recorder,
        clear_prefix,
        redis_url,
        run_load,
        server,
        signed_forms,
        wait_workers,
        workers,
    )
    from intake.config import Settings
    from intake.store import Store

    url, embedded = redis_url()
    recorder = Recorder()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, database(Path(tmp)) as (db_url, _kind):
        settings = Settings(
            redis_url=url,
            database_url=db_url,
            data_dir=Path(tmp),
            queue_prefix="intake-bench-mem-" + secrets.token_hex(3),
            twilio_account_sid=ACCOUNT,
            twilio_auth_token=TOKEN,
            twilio_from_number=FROM,
            twilio_api_base_url=recorder.url,
        )
        store = Store.from_url(db_url)
        store.upgrade()
        procs = workers(settings, 2, burst=False, simple=None)
        try:
            wait_workers(settings, procs)
            with server("app", settings) as (base, web):
                forms = signed_forms(base, referrals, 200_000)

                def drain(upto: int) -> None:
                    while store.count_referrals() < upto:
                        if any(proc.poll() is not None for proc in procs):
                            raise RuntimeError("a worker exited")
                        time.sleep(0.5)

                warm = 200
                run_load(base, forms[:warm], mode="open", rate=100, seconds=warm / 100)
                drain(warm)
                out["worker_mb_before"] = max(rss_mb(proc.pid) for proc in procs)
                out["web_mb_before"] = rss_mb(web.pid)
                rest = forms[warm:]
                run_load(base, rest, mode="open", rate=100, seconds=len(rest) / 100)
                drain(referrals)
                out["worker_mb_after"] = max(rss_mb(proc.pid) for proc in procs)
                out["web_mb_after"] = rss_mb(web.pid)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
            clear_prefix(settings)
            store.dispose()
            recorder.close()
            if embedded:
                embedded.stop()
    out["referrals"] = referrals
    out["bound_mb"] = MEMORY_BOUND_MB
    out["growth_mb"] = round(
        max(
            out["worker_mb_after"] - out["worker_mb_before"],
            out["web_mb_after"] - out["web_mb_before"],
        ),
        1,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    import tempfile

    import sqlalchemy as sa

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--memory", type=int, default=MEMORY_REFERRALS, help="0 to skip")
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    from intake.store import Store

    results: dict[str, Any] = {"machine": machine(), "sizes": {}}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, database(Path(tmp)) as (url, kind):
        if kind != "PostgreSQL":
            print("bench/scale.py needs PostgreSQL (BENCH_POSTGRES_URL)", file=sys.stderr)
            return 2
        results["database"] = kind
        store = Store.from_url(url)
        store.upgrade()
        have = 0
        for size in sizes:
            t0 = time.perf_counter()
            with store.engine.begin() as conn:
                seed(conn, have, size)
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE"))
            have = size
            seeded = round(time.perf_counter() - t0, 1)
            figures = {name: timed(fn) for name, fn in reads(store, size).items()}
            results["sizes"][str(size)] = {"seed_s": seeded, "ms": figures}
            print(f"  {size:>9,} referrals (seeded in {seeded}s): {figures}", file=sys.stderr)
        with store.engine.connect() as conn:
            results["explain_at"] = sizes[-1]
            results["explain"] = explain(conn, store, sizes[-1])
        store.dispose()
    base = results["sizes"][str(sizes[0])]["ms"]
    results["ratio_to_smallest"] = {
        str(size): {
            name: round(ms / base[name], 2) if base.get(name) else None
            for name, ms in results["sizes"][str(size)]["ms"].items()
        }
        for size in sizes
    }
    write(results, args.out)  # the store's figures are kept even if the memory run fails
    if args.memory:
        results["memory"] = bench_memory(args.memory)
        print(f"  memory: {results['memory']}", file=sys.stderr)
    results["seconds"] = round(time.perf_counter() - began)
    write(results, args.out)
    print_table(results)
    return 0


def write(results: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", "utf-8")


def print_table(r: dict[str, Any]) -> None:
    sizes = list(r["sizes"])
    names = list(r["sizes"][sizes[-1]]["ms"])
    print(f"\nstore scale ({r['database']}): fastest ms, ratio to {int(sizes[0]):,}")
    print(f"{'read':<16}" + "".join(f"{int(s):>22,}" for s in sizes))
    for name in names:
        cells = []
        for s in sizes:
            ms = r["sizes"][s]["ms"].get(name)
            ratio = r["ratio_to_smallest"][s].get(name)
            cells.append(f"{ms} ms ({ratio}x)" if ms is not None else "-")
        print(f"{name:<16}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    raise SystemExit(main())
