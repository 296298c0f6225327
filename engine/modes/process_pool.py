"""Process-pool mode: N worker processes pulling downloads from the queue."""

from __future__ import annotations

import os
from typing import ClassVar

from engine.modes.base import Runner


class ProcessPoolRunner(Runner):
    name: ClassVar[str] = "process-pool"
    label: ClassVar[str] = "Process pool"
    description: ClassVar[str] = (
        "N worker processes take URLs from a queue: exactly N children in the task manager. Each "
        "download is isolated in its own interpreter; pays off only for CPU-heavy work per file."
    )
    uses_processes: ClassVar[bool] = True
    resizable: ClassVar[bool] = True

    @classmethod
    def default_workers(cls) -> int:
        return os.cpu_count() or 2
