"""Thread-pool mode: N threads pulling downloads from the queue; N can change while it runs."""

from __future__ import annotations

from typing import ClassVar

from engine.modes.base import Runner

DEFAULT_THREADS = 8


class ThreadPoolRunner(Runner):
    name: ClassVar[str] = "thread-pool"
    label: ClassVar[str] = "Thread pool"
    description: ClassVar[str] = (
        "N threads in one process take URLs from a queue. The usual best choice for downloads: they "
        "mostly wait on the network, and threads wait cheaply. Resize it while it runs."
    )
    resizable: ClassVar[bool] = True

    @classmethod
    def default_workers(cls) -> int:
        return DEFAULT_THREADS
