"""A TCP proxy on loopback for outage tests: the database "goes away" when it is cut
(connections reset, new ones refused) or hangs (bytes no longer forwarded), and comes
back when restored."""

from __future__ import annotations

import contextlib
import encodings.idna  # noqa: F401  (imported here, not by a proxy thread: see below)
import socket
import threading
from collections.abc import Iterator
from types import TracebackType


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target`` in threads.

    The threads must import nothing: Python 3.11 before 3.11.8 shares the compiler's
    recursion counter between threads, and an import in a thread while pytest rewrites a
    module in another ends the run with "AST constructor recursion depth mismatch"."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._flowing = threading.Event()
        self._flowing.set()
        self._open()

    # ------------------------------------------------------------------ control
    def cut(self) -> None:
        """The server is gone: every connection is reset, new ones are refused."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                    sock.close()

    def hang(self) -> None:
        """Packets are dropped: connections stay open, nothing gets through."""
        self._flowing.clear()

    def restore(self) -> None:
        """The server is back (same port)."""
        self._flowing.set()
        if self._listener is None:
            self._open()

    def close(self) -> None:
        """Stop for good."""
        self._flowing.set()
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ work
    def _open(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._pairs.append((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self._flowing.wait()
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def proxy_to(host: str, port: int) -> Iterator[TcpProxy]:
    """A proxy for the duration of a ``with`` block."""
    proxy = TcpProxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
