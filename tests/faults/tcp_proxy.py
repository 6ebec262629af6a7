"""A TCP proxy a test can switch off and on: the database "goes away" for the processes that
reach it through the proxy, while the test itself still reaches the database directly.

Switched off, the listening socket is closed (new connections are refused, as by a stopped
server) and every open connection is cut (as by a restart or a lost network), so pooled
connections die too. Switched on, it listens again on the same port. A `tripwire` sees each
chunk the clients send and may switch the proxy off just before that chunk is passed on: the
connection drops at a chosen point of a job, not at a chosen time.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

from tests.support.servers import free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._accepter: threading.Thread | None = None
        self.accepted = 0  # connections passed through, for the test's own sanity checks
        self.tripwire: Callable[[bytes], bool] | None = None
        self.tripped = threading.Event()

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def up(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)  # so the accept loop notices `down()` promptly
        self._stopping.clear()
        self._listener = listener
        self._accepter = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        self._accepter.start()

    def down(self) -> None:
        """Refuse new connections and cut every open one."""
        listener, self._listener = self._listener, None
        self._stopping.set()
        if self._accepter is not None:
            self._accepter.join(timeout=5)
            self._accepter = None
        if listener is not None:
            listener.close()
        with self._lock:
            open_sockets, self._sockets = self._sockets, set()
        for sock in open_sockets:
            _close(sock)

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._stopping.is_set():
                    _close(client)
                    _close(upstream)
                    return
                self._sockets.update((client, upstream))
                self.accepted += 1
            for src, dst, outgoing in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, outgoing), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, outgoing: bool) -> None:
        try:
            while data := src.recv(65536):
                if outgoing and self.tripwire is not None and self.tripwire(data):
                    self.tripwire = None
                    self.tripped.set()
                    self.down()  # the chunk never reaches the server
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(src)
                self._sockets.discard(dst)
            _close(src)
            _close(dst)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
