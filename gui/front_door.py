"""One window per data folder: the first listens on a local socket; a second knocks and the first comes up."""

from __future__ import annotations

import getpass
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

KNOCK = b"front\n"
KNOCK_TIMEOUT_MS = 1500


def door_name(folder: Path) -> str:
    """The socket's name: the same for one user and one folder, whichever path spells it."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (a container's odd uid): the uid still tells users apart
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    where = os.path.normcase(os.path.realpath(folder))
    return "parafetch-" + hashlib.sha256(f"{user}\0{where}".encode()).hexdigest()[:20]


def knock(folder: Path) -> bool:
    """Ask the window that owns `folder` to come to the front; False when no window answers."""
    socket = QLocalSocket()
    socket.connectToServer(door_name(folder))
    if not socket.waitForConnected(KNOCK_TIMEOUT_MS):
        return False
    socket.write(KNOCK)
    delivered = socket.waitForBytesWritten(KNOCK_TIMEOUT_MS)
    socket.disconnectFromServer()
    return delivered


class FrontDoor(QObject):
    """Listens for a second Parafetch on the same folder and calls `come_forward` when one knocks.
    Open it only while this process owns the folder: a socket left by a crashed window is then stale."""

    def __init__(self, folder: Path, come_forward: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._come_forward = come_forward
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        name = door_name(folder)
        QLocalServer.removeServer(name)  # a crashed window's socket file
        self.is_open = self._server.listen(name)
        self._server.newConnection.connect(self._visitor)

    @Slot()
    def _visitor(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if socket.readAll().size() and not socket.property("knocked"):  # a knock, however it was split
            socket.setProperty("knocked", True)
            self._come_forward()

    def close(self) -> None:
        self._server.close()
