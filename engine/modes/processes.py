"""Processes mode: a new process for every download, all started at once (up to what memory allows)."""

from __future__ import annotations

from typing import ClassVar

from engine.limits import MIB, Ceiling, worker_ceiling
from engine.modes.base import Runner

PROCESS_COST = 60 * MIB  # a Python interpreter with requests loaded
MAX_PROCESSES = 256


class ProcessesRunner(Runner):
    name: ClassVar[str] = "processes"
    label: ClassVar[str] = "Processes (one per URL)"
    description: ClassVar[str] = (
        "A new process for every URL, all at once. Shows what a process costs: start-up time and tens "
        "of MiB each. Worth it only when each file needs heavy CPU work after it arrives."
    )
    uses_processes: ClassVar[bool] = True
    one_shot: ClassVar[bool] = True

    def ceiling(self) -> Ceiling:
        return worker_ceiling("process", PROCESS_COST, files_each=4, hard_cap=MAX_PROCESSES)
