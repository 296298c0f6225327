"""Threads mode: a new thread for every download, all started at once (up to what memory allows)."""

from __future__ import annotations

from typing import ClassVar

from engine.limits import MIB, Ceiling, worker_ceiling
from engine.modes.base import Runner

THREAD_COST = 4 * MIB  # a stack's touched pages, a 1 MiB read buffer, a connection pool
MAX_THREADS = 1024


class ThreadsRunner(Runner):
    name: ClassVar[str] = "threads"
    label: ClassVar[str] = "Threads (one per URL)"
    description: ClassVar[str] = (
        "A new thread for every URL, all at once, in one process. Fast for a few dozen waiting-bound "
        "downloads; with thousands of URLs the thread count (and the server's load) grows with the list."
    )
    one_shot: ClassVar[bool] = True

    def ceiling(self) -> Ceiling:
        return worker_ceiling("thread", THREAD_COST, files_each=2, hard_cap=MAX_THREADS)
