"""Downloads made durable and named off the workers: a part whose bytes are all in is fsynced on a helper
thread (several at once, so their syncs share the disk's flushes), then linked to its final name; each
result goes back to the engine loop, which then saves the job as done."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from engine.errors import disk_error
from engine.naming import NameTaken, commit_part

FINISHERS = 4  # parts fsynced at once
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class Committed:
    """A download's part was fsynced and given its final name `path`; or why not: `taken` when another
    file holds the name (the job is named again and committed once more), else a disk `error` in words."""

    job_id: int
    path: str | None = None
    taken: bool = False
    error: str | None = None


def commit_download(part_path: str, final: Path) -> None:
    """Make a complete part durable, then give it its final name: a file under its final name is always
    complete on disk. Raises NameTaken when another file holds the name, OSError when the disk fails."""
    fd = os.open(part_path, os.O_RDWR | _NOFOLLOW)  # (a planted link is refused, never followed)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    commit_part(Path(part_path), final)


class Finisher:
    """Commits downloads on FINISHERS helper threads, started when the first one comes; each result is
    handed to `post` (the engine's inbox) as a Committed. Only the engine loop's thread calls it."""

    def __init__(self, post: Callable[[Committed], None]) -> None:
        self._post = post
        self._pool: ThreadPoolExecutor | None = None

    def put(self, job_id: int, part_path: str, final: Path) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(FINISHERS, thread_name_prefix="finisher")
        self._pool.submit(self._commit, job_id, part_path, final)

    def _commit(self, job_id: int, part_path: str, final: Path) -> None:
        try:
            commit_download(part_path, final)
        except NameTaken:
            self._post(Committed(job_id, taken=True))
        except OSError as exc:
            self._post(Committed(job_id, error=disk_error(exc, "saving the finished file").message))
        except Exception as exc:  # a bug must not leave the job running forever
            self._post(Committed(job_id, error=f"internal error: {type(exc).__name__}: {exc}"))
        else:
            self._post(Committed(job_id, str(final)))

    def close(self) -> None:
        """Wait for the commits under way (their results still go to `post`)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
