"""A raw socket server on 127.0.0.1 that answers every request with fixed bytes, as fast or as slowly as
asked: for what a well-behaved HTTP server cannot be made to send (huge lengths, headers in drips)."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class RawServer:
    """Answers each connection with `answer`, `drip` seconds between bytes (0: all at once)."""

    def __init__(self, answer: bytes, drip: float = 0.0) -> None:
        self._answer = answer
        self._drip = drip
        self._stopping = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/raw.bin"
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, name="RawServer", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer_one, args=(conn,), daemon=True).start()

    def _answer_one(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            if not self._drip:
                conn.sendall(self._answer)
                return
            for byte in self._answer:
                if self._stopping.wait(self._drip):
                    return
                conn.sendall(bytes([byte]))

    def close(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() that close() alone would leave
        self._sock.close()
        self._thread.join(5)

    def __enter__(self) -> RawServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
