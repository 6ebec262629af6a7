"""The webhook load generator: run as its own process so it does not share the bench driver's
interpreter (and GIL) with anything else, and so its CPU use can be reported next to the server's.

`python bench/load.py SPEC.json OUT.json` where SPEC is
`{"mode": "closed"|"open", "host": "127.0.0.1", "port": N, "requests": [[path, body, headers]...],
  "seconds": S, "concurrency": C, "rate": R}`.

Requests are pre-encoded HTTP/1.1 bytes sent over keep-alive sockets with asyncio streams (uvloop
when installed): an httpx client spends several times more CPU per request than a small Starlette
endpoint does, and on a 2-core machine that starves the server it is meant to measure.

- closed: `concurrency` connections each send the next request as soon as the last is answered.
- open: a steady `rate`, each request on an idle connection (a new one if none is idle), so
  latency is measured without coordinated omission.

OUT gets {requests, errors, seconds, latencies_ms, sent: [[unix time, index]...], cpu_s}.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]  # seconds
    sent: list[tuple[float, int]] = field(default_factory=list)
    cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        data = sorted(self.latencies)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, int(p / 100 * len(data)))] * 1000


def encode(host: str, port: int, path: str, body: str, headers: dict[str, str]) -> bytes:
    raw = body.encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(raw)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, data: bytes) -> int:
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


async def connect(host: str, port: int) -> Conn:
    return Conn(*await asyncio.open_connection(host, port))


async def closed_loop(
    host: str, port: int, requests: list[bytes], seconds: float, concurrency: int
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    counter = 0
    conns = [await connect(host, port) for _ in range(concurrency)]
    stop = time.perf_counter() + seconds

    async def user(conn: Conn) -> None:
        nonlocal errors, counter
        while time.perf_counter() < stop:
            data = requests[counter % len(requests)]
            counter += 1
            t0 = time.perf_counter()
            status = await conn.request(data)
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(user(c) for c in conns))
    elapsed = time.perf_counter() - start
    for c in conns:
        c.writer.close()
    return LoadResult(len(latencies), errors, elapsed, latencies)


async def open_loop(
    host: str, port: int, requests: list[bytes], rate: float, seconds: float
) -> LoadResult:
    latencies: list[float] = []
    sent: list[tuple[float, int]] = []
    errors = 0
    idle = [await connect(host, port) for _ in range(16)]
    total = int(rate * seconds)

    async def one(i: int) -> None:
        nonlocal errors
        conn = idle.pop() if idle else await connect(host, port)
        t0 = time.perf_counter()
        sent.append((time.time(), i))
        try:
            status = await conn.request(requests[i % len(requests)])
        except (ConnectionError, asyncio.IncompleteReadError):
            # the server closed a connection that sat idle past its keep-alive timeout (a long
            # run's spare connections do): what any client does, open another and send again
            conn = await connect(host, port)
            status = await conn.request(requests[i % len(requests)])
        latencies.append(time.perf_counter() - t0)
        idle.append(conn)
        if status != 200:
            errors += 1

    start = time.perf_counter()
    tasks = []
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for c in idle:
        c.writer.close()
    return LoadResult(len(latencies), errors, elapsed, latencies, sent)


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec: dict[str, Any] = json.load(f)
    host, port = spec["host"], int(spec["port"])
    requests = [encode(host, port, path, body, h) for path, body, h in spec["requests"]]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    before = resource.getrusage(resource.RUSAGE_SELF)
    if spec["mode"] == "closed":
        result = asyncio.run(
            closed_loop(host, port, requests, spec["seconds"], spec["concurrency"])
        )
    else:
        result = asyncio.run(open_loop(host, port, requests, spec["rate"], spec["seconds"]))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {
        "requests": result.requests,
        "errors": result.errors,
        "seconds": result.seconds,
        "latencies": result.latencies,
        "sent": result.sent,
        "cpu_s": usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime,
        "pid": os.getpid(),
    }
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
