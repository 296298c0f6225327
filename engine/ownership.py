"""One owner per data folder: a lock file that a second Parafetch finds taken, naming who holds it."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

LOCK_NAME = "owner.lock"


class FolderInUse(RuntimeError):
    """Another process owns the data folder."""


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 1 << 20, os.SEEK_SET)  # lock a byte past the text, so others can still read who holds it
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def describe_process() -> str:
    """What this process is, for the message another one shows: `pid 1234, parafetch get`."""
    command = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in ("get", "compare") else None
    return f"pid {os.getpid()}, " + (f"parafetch {command}" if command else "the Parafetch window")


class FolderLock:
    """Held for as long as a store is open on the folder; the OS drops it when the process ends."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(self._fd):
            holder = self._holder()
            os.close(self._fd)
            raise FolderInUse(
                f"the data folder {folder} is in use by another Parafetch ({holder}); wait for it to "
                "finish, or give this one another data folder (--data-dir)"
            )
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.write(self._fd, describe_process().encode())

    def _holder(self) -> str:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                return handle.read(200).strip() or "starting up"
        except OSError:
            return "unknown process"

    def release(self) -> None:
        """Let another process have the folder; harmless twice."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = -1
