"""Downloads made durable and named off the workers: a part whose bytes are all in is fsynced on a helper
thread (several at once, so their syncs share the disk's flushes), then linked to its final name; each
result goes back to the engine loop, which then saves the job as done."""

from __future__ import annotations

import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import disk_error
from engine.naming import NameTaken, commit_part

FINISHERS = 4  # parts fsynced at once
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class Committed:
    """A download's part was fsynced and given its final name `path`; or why not: `taken` when another
    file holds the name (the job is named again and committed once more), else `error` in words."""

    job_id: int
    path: str | None = None
    taken: bool = False
    error: str | None = None


class PartChanged(Exception):
    """The part on disk is not the file the worker verified (truncated, grown, replaced or linked)."""


def commit_download(part_path: str, final: Path, size: int) -> None:
    """Make a complete part of `size` bytes durable, then give it its final name: a file under its final
    name is always the verified one, complete on disk. Raises PartChanged when the part is not that file,
    NameTaken when another file holds the name, OSError when the disk fails."""
    fd = os.open(part_path, os.O_RDWR | _NOFOLLOW)  # (a planted symbolic link is refused, never followed)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size != size:
            raise PartChanged(f"{info.st_size} bytes where {size} were verified")
        os.fsync(fd)
    finally:
        os.close(fd)
    commit_part(Path(part_path), final)


_Work = tuple[int, str, Path, int]  # job id, part path, final path, size


class Finisher:
    """Commits downloads on FINISHERS daemon threads, started with the first one. Each result goes to
    `post` (the engine's inbox) as a Committed, and is kept until `taken`, so a closing engine still finds
    the answers it had no turn left to read. Only the engine loop's thread calls it."""

    def __init__(self, post: Callable[[Committed], None]) -> None:
        self._post = post
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._unread: dict[int, Committed] = {}

    def put(self, job_id: int, part_path: str, final: Path, size: int) -> None:
        if not self._threads:
            self._threads = [threading.Thread(target=self._serve, name=f"finisher-{i + 1}", daemon=True)
                             for i in range(FINISHERS)]
            for thread in self._threads:
                thread.start()
        self._work.put((job_id, part_path, final, size))

    def taken(self, job_id: int) -> None:
        """The engine has read the answer about this job."""
        with self._lock:
            self._unread.pop(job_id, None)

    def close(self, timeout: float) -> dict[int, Committed]:
        """Wait up to `timeout` s for the commits under way; returns the answers not yet taken (a commit
        still stuck then, on a hung disk, is left to its daemon thread and has none)."""
        for _ in self._threads:
            self._work.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        with self._lock:
            unread, self._unread = self._unread, {}
        return unread

    def _serve(self) -> None:
        while (work := self._work.get()) is not None:
            answer = _commit(*work)
            with self._lock:
                self._unread[answer.job_id] = answer
            self._post(answer)


def _commit(job_id: int, part_path: str, final: Path, size: int) -> Committed:
    try:
        commit_download(part_path, final, size)
    except NameTaken:
        return Committed(job_id, taken=True)
    except PartChanged as changed:
        return Committed(job_id, error=f"the downloaded file changed on disk before it was saved: {changed}")
    except OSError as exc:
        return Committed(job_id, error=disk_error(exc, "saving the finished file").message)
    except Exception as exc:  # a bug must not leave the job running forever
        return Committed(job_id, error=f"internal error: {type(exc).__name__}: {exc}")
    return Committed(job_id, str(final))
