"""An async httpx load generator: closed-loop (as fast as N connections go) and open-loop (a
steady rate, so latency is measured without coordinated omission)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        data = sorted(self.latencies)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, int(p / 100 * len(data)))] * 1000


Request = tuple[str, dict[str, str], dict[str, str]]  # url, form, headers


async def closed_loop(requests: Sequence[Request], seconds: float, concurrency: int) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    counter = 0

    async def user(client: httpx.AsyncClient) -> None:
        nonlocal errors, counter
        while time.perf_counter() < stop:
            url, form, headers = requests[counter % len(requests)]
            counter += 1
            t0 = time.perf_counter()
            response = await client.post(url, data=form, headers=headers)
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 200:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = time.perf_counter()
        await asyncio.gather(*(user(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return LoadResult(len(latencies), errors, elapsed, latencies)


async def open_loop(
    requests: Sequence[Request], rate: float, seconds: float
) -> tuple[LoadResult, list[tuple[float, int]]]:
    """Send at a steady `rate`; returns the result and (send time, index) for each request."""
    latencies: list[float] = []
    sent: list[tuple[float, int]] = []
    errors = 0
    total = int(rate * seconds)

    async def one(client: httpx.AsyncClient, i: int) -> None:
        nonlocal errors
        url, form, headers = requests[i % len(requests)]
        t0 = time.perf_counter()
        sent.append((time.time(), i))
        response = await client.post(url, data=form, headers=headers)
        latencies.append(time.perf_counter() - t0)
        if response.status_code != 200:
            errors += 1

    limits = httpx.Limits(max_connections=200, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(client, i)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return LoadResult(len(latencies), errors, elapsed, latencies), sent
