"""The duty desk at 100,000 referrals: how long the queue and a search take to serve.

`python bench/desk.py [--referrals 100000] [--backend sqlite|postgres|both]` seeds a store
quickly (bulk inserts straight into the tables, search terms made by the real tokeniser, not the
pipeline: a referral through the pipeline costs ~50 ms, so 100,000 would take over an hour), then
serves the real app under uvicorn on loopback and times, for a logged-in advocate:

- `/` the queue as it opens (open and triaged referrals, working order, first page of 200);
- `/?status=all` every referral (paging and counts over all of them);
- `/?q=Willow+Lodge` a search by two words that 0.02% of referrals contain;
- `/?q=help` a search by a word most referrals contain (the worst case for a word index);
- `/?urgency=emergency&q=tablets` a filtered search;
- `/?q=REF-...` a search by one referral's reference;
- `/queue/state` the live state every open tab fetches every 5 s;
- the baseline, measured in the same run: `/healthz` (one database and one Redis round trip).

The seeded mix is a service's: 3% emergency, 20% urgent; 2,000 open (a third claimed), 1,000
triaged, the rest closed. Prints medians and p95 over 30 requests each, and the ratio to the
baseline's median.

The rows are written through the store's own tables on an engine holding the store's keys, so
they are stored as the service stores them: texts and fields encrypted (Fernet), search terms
as their HMAC-SHA256 under the search key (the blind index). `check_encrypted` proves it on the
seeded rows before anything is timed (no plain term, no plain text), so the search figures are
the blind index's. Uses PostgreSQL on 127.0.0.1:5432 (a database of its own, dropped afterwards)
and the Redis on 127.0.0.1:6379 (or an embedded one).
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import channels  # noqa: E402
from intake.config import Settings  # noqa: E402
from intake.embedded_redis import EmbeddedRedis  # noqa: E402
from intake.models import URGENCY_RANK  # noqa: E402
from intake.reference import ALPHABET  # noqa: E402
from intake.runtime import Runtime  # noqa: E402
from intake.store import crypto, search  # noqa: E402
from intake.store.schema import messages, referral_work, referrals, search_terms  # noqa: E402
from intake.users import add_user  # noqa: E402
from intake.web.app import create_app  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "a long enough passphrase"
NAMES = ["Margaret", "Tom", "Amina", "Siân", "Łukasz", "Carol", "Michael", "Joan", "Pat", "Sam"]
SURNAMES = ["Evans", "Patel", "Jones", "Nowak", "Okafor", "Denton", "Smith", "Khan", "Brown"]
PLACES = ["Beech House", "the Linden unit", "Rosemount", "St Mary's ward", "Oak Court", "home"]
TEXTS = [
    "Hello, I need help with {name} {surname} who is at {place}, they want to move them",
    "my dad {name} is on a section 2 at {place} and wants to appeal, can you help",
    "ive taken all my tablets i cant do this anymore {name}",
    "I would like help making a complaint about {place} for my mum {name} {surname}",
    "my neighbour {name} keeps taking my dads pension money at {place}, please help",
    "Can an advocate help {name} {surname} with a care act assessment next month",
]
URGENCY_OF = ["routine", "urgent", "emergency", "routine", "urgent", "routine"]


def _reference(used: set[str]) -> str:
    while True:
        ref = "REF-" + "".join(random.choice(ALPHABET) for _ in range(5)) + random.choice("2345")
        if ref not in used:
            used.add(ref)
            return ref


def seed(runtime: Runtime, count: int, batch: int = 5000) -> tuple[float, str]:
    """Insert `count` referrals with a message each, their search terms and work rows, through
    the schema's tables (so the store's column types encrypt and blind them). Returns the
    seconds it took and the reference of the referral halfway (a search by reference finds it)."""
    random.seed(14)
    started = time.perf_counter()
    used: set[str] = set()
    now = datetime.now(UTC)
    engine = runtime.store.engine
    sample = ""
    open_ids = set(range(1, 2001))
    triaged_ids = set(range(2001, 3001))
    for start in range(1, count + 1, batch):
        ids = range(start, min(start + batch, count + 1))
        rows, bodies, terms, work = [], [], [], []
        for i in ids:
            kind = random.randrange(len(TEXTS))
            urgency = URGENCY_OF[kind] if random.random() < 0.3 else "routine"
            if random.random() < 0.03:
                urgency = "emergency"
            text = TEXTS[kind].format(
                name=random.choice(NAMES),
                surname=random.choice(SURNAMES),
                place=random.choice(PLACES),
            )
            if i % 5000 == 7:
                text += " She is at Willow Lodge."
            received = now - timedelta(minutes=3 * (count - i))
            status = "open" if i in open_ids else "triaged" if i in triaged_ids else "closed"
            reference = _reference(used)
            if i == count // 2:
                sample = reference
            sender = f"+4477009{i:05d}"
            rows.append(
                {
                    "id": i,
                    "reference": reference,
                    "channel": "sms",
                    "sender": sender,
                    "received_at": received,
                    "raw_text": text,
                    "urgency": urgency,
                    "urgency_rank": URGENCY_RANK[urgency],
                    "safeguarding": ["neglect"] if urgency != "routine" else [],
                    "screening": {"urgency": urgency},
                    "fields": {"name": text.split()[0]},
                    "status": status,
                    "forward_status": "delivered",
                    "safe_to_contact": True,
                    "created_at": received,
                    "updated_at": received,
                }
            )
            bodies.append(
                {
                    "referral_id": i,
                    "channel": "sms",
                    "provider_id": f"SM{i:032d}",
                    "sender": sender,
                    "recipient": "+447700900001",
                    "body": text,
                    "received_at": received,
                    "meta": {},
                    "created_at": received,
                }
            )
            document = f"{reference}\n{sender}\n{text}"
            terms += [{"term": t, "referral_id": i} for t in search.terms(document)]
            if i in open_ids and i % 3 == 0:
                work.append(
                    {"referral_id": i, "claimed_by": "someone@example.org", "claimed_at": now}
                )
        with engine.begin() as conn:
            conn.execute(referrals.insert(), rows)
            conn.execute(messages.insert(), bodies)
            conn.execute(search_terms.insert(), terms)
            if work:
                conn.execute(referral_work.insert(), work)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT setval('referrals_id_seq', :n)"), {"n": count})
            conn.execute(sa.text("SELECT setval('messages_id_seq', :n)"), {"n": count})
            conn.execute(sa.text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    return time.perf_counter() - started, sample


def check_encrypted(runtime: Runtime, reference: str) -> None:
    """Raise unless the seeded rows are stored as the service stores them: the referral's text
    and its message encrypted, and the index holding keyed hashes, not words or references."""
    keyring = crypto.keyring_of(runtime.store.engine.dialect)
    if keyring is None:
        raise RuntimeError(
            "the desk bench's store has no keys: its figures would not be the blind index's"
        )
    with runtime.store.engine.connect() as conn:
        text = conn.execute(sa.text("SELECT raw_text FROM referrals WHERE id = 7")).scalar_one()
        body = conn.execute(sa.text("SELECT body FROM messages WHERE referral_id = 7")).scalar_one()
        lookup = sa.text("SELECT count(*) FROM search_terms WHERE term = :t")
        plain = [conn.execute(lookup, {"t": t}).scalar_one() for t in ("willow", "help")]
        ref_term = "ref-" + reference[4:].lower()
        plain.append(conn.execute(lookup, {"t": ref_term}).scalar_one())
        blind = conn.execute(lookup, {"t": keyring.blind("willow")}).scalar_one()
        blind_ref = conn.execute(lookup, {"t": keyring.blind(ref_term)}).scalar_one()
    if not (text.startswith(crypto.PREFIX) and body.startswith(crypto.PREFIX)):
        raise RuntimeError("seeded texts are not encrypted")
    if any(plain) or not blind or blind_ref != 1:
        raise RuntimeError(f"the index is not blind (plain {plain}, keyed {blind}, {blind_ref})")


@contextmanager
def serving(runtime: Runtime) -> Iterator[str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def paths(reference: str) -> list[tuple[str, str]]:
    """The pages timed, the baseline first; `reference` is one seeded referral's."""
    return [
        ("baseline /healthz", "/healthz"),
        ("queue (open and triaged)", "/"),
        ("queue, every referral", "/?status=all"),
        ("search 'Willow Lodge' (rare)", "/?status=all&q=Willow+Lodge"),
        ("search 'help' (most referrals)", "/?status=all&q=help"),
        ("search + filter", "/?status=all&urgency=emergency&q=tablets"),
        ("search a reference", f"/?status=all&q={reference}"),
        ("live state /queue/state", "/queue/state"),
    ]


def measure(
    base: str, pages: list[tuple[str, str]], repeat: int = 30
) -> dict[str, dict[str, float]]:
    import re

    results: dict[str, dict[str, float]] = {}
    with httpx.Client(timeout=60) as client:
        page = client.get(base + "/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post(
            base + "/login",
            data={
                "email": "bench@example.org",
                "password": PASSWORD,
                "csrf_token": token,
                "next": "/",
            },
        )
        for label, path in pages:
            client.get(base + path)  # warm
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                response = client.get(base + path)
                times.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            times.sort()
            results[label] = {
                "p50_ms": statistics.median(times),
                "p95_ms": times[int(len(times) * 0.95) - 1],
            }
    return results


def run(backend: str, count: int, redis_url: str, repeat: int = 30) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="intake-bench-desk-"))
    admin = None
    if backend == "postgres":
        admin = sa.create_engine(
            POSTGRES.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        )
        name = "intake_bench_desk_" + secrets.token_hex(3)
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = POSTGRES.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{folder / 'intake.db'}"
    settings = Settings(
        redis_url=redis_url,
        database_url=url,
        data_dir=folder,
        queue_prefix="intake-bench-desk",
        session_cookie_secure=False,
        secret_key="bench-" + "k" * 30,
    )
    runtime = Runtime.build(settings, channels.registry())
    try:
        seconds, reference = seed(runtime, count)
        check_encrypted(runtime, reference)
        add_user(runtime.store, "bench@example.org", PASSWORD, "advocate")
        with serving(runtime) as base:
            results = measure(base, paths(reference), repeat)
    finally:
        runtime.close()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    baseline = results["baseline /healthz"]["p50_ms"]
    print(f"\n{backend}: {count:,} referrals seeded in {seconds:.0f} s (encrypted, blind index)")
    print(f"  {'page':34} {'p50 ms':>8} {'p95 ms':>8} {'x baseline':>10}")
    for label, figures in results.items():
        ratio = figures["p50_ms"] / baseline
        print(f"  {label:34} {figures['p50_ms']:8.1f} {figures['p95_ms']:8.1f} {ratio:10.1f}")
    return {
        "backend": backend,
        "referrals": count,
        "seed_seconds": round(seconds, 1),
        "encrypted": True,
        "pages": results,
        "ratio_to_healthz": {
            label: round(figures["p50_ms"] / baseline, 1) for label, figures in results.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
        redis_url, embedded = "redis://127.0.0.1:6379/0", None
    except Exception:
        embedded = EmbeddedRedis(Path(tempfile.mkdtemp()))
        redis_url = embedded.url
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    out = []
    try:
        for backend in backends:
            out.append(run(backend, args.referrals, redis_url))
    finally:
        if embedded:
            embedded.stop()
    (ROOT / "bench" / "results" / "desk.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
