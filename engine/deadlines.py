"""Deadlines for sockets: one helper thread per process shuts down a socket whose deadline passes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass


@dataclass(eq=False)
class Guard:
    """One armed deadline; `fired` once the socket was shut down for it."""

    sock: socket.socket
    deadline: float
    fired: bool = False


class Deadlines:
    """Shuts down sockets whose deadline passed, so a read blocked on them returns at once.

    Socket timeouts bound each read; this bounds a whole exchange (a server sending its headers one byte
    every few seconds never trips a read timeout). Only exchanges in flight are armed (a few per worker),
    and the watcher is woken only when a new deadline comes before the one it waits for.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._armed: set[Guard] = set()
        self._wakes_at = float("inf")
        self._thread: threading.Thread | None = None

    def arm(self, sock: socket.socket, seconds: float) -> Guard:
        guard = Guard(sock, time.monotonic() + seconds)
        with self._lock:
            self._armed.add(guard)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="http-deadlines", daemon=True)
                self._thread.start()
            elif guard.deadline < self._wakes_at:
                self._changed.notify()
        return guard

    def disarm(self, guard: Guard) -> bool:
        """Stop watching; True when the deadline had already fired."""
        with self._lock:
            self._armed.discard(guard)
            return guard.fired

    def _watch(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for guard in [g for g in self._armed if g.deadline <= now]:
                    self._armed.discard(guard)
                    guard.fired = True
                    with contextlib.suppress(OSError):
                        guard.sock.shutdown(socket.SHUT_RDWR)
                self._wakes_at = min((g.deadline for g in self._armed), default=float("inf"))
                self._changed.wait(self._wakes_at - now if self._armed else None)


DEADLINES = Deadlines()
