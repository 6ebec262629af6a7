"""Real processes for the fault tests: a Redis server of our own, an `intake worker` subprocess,
and a Twilio stand-in that can hold its answer (so a job is deterministically mid-flight)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from intake.config import Settings
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, step: float = 0.05) -> None:
    """Poll until `predicate()` is truthy; fail the test (not hang it) after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(step)


class RedisServer:
    """A `redis-server` of the test's own, append-only so queued jobs survive a restart."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10)

    def stop(self) -> None:
        """SIGTERM: Redis flushes the append-only file and exits, as on a normal restart."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_", "TWILIO_"))
    }
    env.update(
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
        REDIS_URL=settings.redis_url or "",
        DATABASE_URL=settings.effective_database_url,
        DATA_DIR=str(settings.data_dir),
        INTAKE_QUEUE_PREFIX=settings.queue_prefix,
        TWILIO_ACCOUNT_SID=settings.twilio_account_sid,
        TWILIO_AUTH_TOKEN=settings.twilio_auth_token,
        TWILIO_FROM_NUMBER=settings.twilio_from_number,
        TWILIO_API_BASE_URL=settings.twilio_api_base_url,
        OUTBOUND_TIMEOUT=str(settings.outbound_timeout),
        ACK_RATE_LIMIT=str(settings.ack_rate_limit),
    )
    env.update(extra)
    return env


def start_worker(
    settings: Settings, log_path: Path, *args: str, **extra: str
) -> subprocess.Popen[bytes]:
    """`intake worker ARGS` (the default worker class, or `--fork`; with the scheduler) in its
    own process group."""
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "intake.cli", "worker", *args],
        cwd=REPO,
        env=worker_env(settings, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def work_horse(worker_pid: int) -> int:
    """The worker's work horse: RQ forks it into a process group of its own (`os.setpgrp`),
    which tells it apart from the scheduler process."""
    horses = [pid for pid in children(worker_pid) if _pgid(pid) == pid]
    if len(horses) != 1:
        raise AssertionError(f"expected one work horse under {worker_pid}, found {horses}")
    return horses[0]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker, its scheduler and its work horse together."""
    horses = [pid for pid in children(process.pid) if _pgid(pid) == pid]
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    for horse in horses:
        with contextlib.suppress(OSError):
            os.kill(horse, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill_group(process)


@dataclass
class HoldingTwilio:
    """Stands in for Twilio's Messages API; holds the first `hold` answers until `release()`,
    or delays every answer by `delay` seconds."""

    server: ThreadingHTTPServer
    hold: int = 0
    delay: float = 0.0
    received: list[dict[str, list[str]]] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def start_holding_twilio(hold: int = 0, delay: float = 0.0) -> HoldingTwilio:
    standin: HoldingTwilio

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            with standin.lock:
                standin.received.append(form)
                held = len(standin.received) <= standin.hold
            if held:
                standin.released.wait(60)
            if standin.delay:
                time.sleep(standin.delay)
            sid = "SM" + secrets.token_hex(16)
            data = json.dumps({"sid": sid, "status": "queued"}).encode()
            try:
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                return  # the caller is gone (killed, or timed out): Twilio would still send it
            with standin.lock:
                standin.answered.append(sid)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    standin = HoldingTwilio(server, hold=hold, delay=delay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return standin
