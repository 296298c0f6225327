"""The window's side of a child process: its pipe, read on the UI thread only when there is something to
read (a QSocketNotifier where the pipe is a socket, Linux and macOS; a short timer where it is not, Windows
named pipes), and its end, waited for and forced when it does not come."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Slot

POLL_MS = 20  # where the pipe is no socket, how often the UI thread looks at it
KILL_AFTER = 2.0  # seconds a child that ends as asked gets, before it is killed


def _is_socket(fd: int) -> bool:
    try:
        with socket.socket(fileno=os.dup(fd)) as probe:
            probe.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
        return True
    except OSError:
        return False


def join_or_kill(process: Any, timeout: float) -> bool:
    """Wait up to `timeout` seconds for a multiprocessing child to end; one still running then is killed
    and reaped. True when it ended by itself."""
    process.join(timeout)
    if not process.is_alive():
        return True
    process.kill()
    process.join(KILL_AFTER)
    return False


class PipeReader(QObject):
    """Hands every message waiting on `conn` to `on_messages` in one list, and calls `on_end` once when the
    other end has closed (the process there ended, however it ended)."""

    def __init__(self, conn: Connection, on_messages: Callable[[list[object]], None],
                 on_end: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.conn: Connection | None = conn
        self._on_messages, self._on_end = on_messages, on_end
        self._notifier: QSocketNotifier | None = None
        self._timer: QTimer | None = None
        fd = conn.fileno()
        if _is_socket(fd):
            self._notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
            self._notifier.activated.connect(self.read)
        else:
            self._timer = QTimer(self)
            self._timer.timeout.connect(self.read)
            self._timer.start(POLL_MS)

    @Slot()
    def read(self) -> None:
        """Read what has arrived (also called directly, to notice an end at once)."""
        conn = self.conn
        if conn is None:
            return
        messages: list[object] = []
        ended = False
        try:
            while conn.poll():
                messages.append(conn.recv())
        except (EOFError, OSError):
            ended = True
        if messages:
            self._on_messages(messages)
        if ended and self.conn is not None:
            self.close()
            self._on_end()

    def send(self, message: object) -> bool:
        """Send to the other end; False when it is gone."""
        if self.conn is None:
            return False
        try:
            self.conn.send(message)
        except OSError:
            return False
        return True

    def close(self) -> None:
        """Stop reading and close our end; harmless twice."""
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
            self.conn = None
