"""The final names that jobs have reserved in their folders: one name, one job, until it is finished."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from engine.jobs import Job
from engine.naming import PART_SUFFIX, free_name


class Reservations:
    """Which job holds which name in each folder, so no two jobs ever write the same file.

    A folder's names are gathered the first time a job there asks: from the jobs in memory, and from
    `earlier` (names held by unfinished jobs of earlier runs that only the store knows).
    """

    def __init__(self, jobs: Callable[[], Iterable[Job]], earlier: Callable[[str], set[str]]) -> None:
        self._jobs = jobs
        self._earlier = earlier
        self._held: dict[str, dict[str, int]] = {}  # folder -> name -> job id (0: a job of an earlier run)

    def reserve(self, job: Job, wanted: str, part_path: str | None) -> tuple[str, str]:
        """A name for `job` that no file, `.part` or other job has, numbered from `wanted`, and its part
        path (`part_path` when given: only the final name changes). The job's old name is given up."""
        held = self._in(job.dest_dir)
        self.release(job)
        name = free_name(job.dest_dir, wanted, held)
        held[name] = job.id
        return name, part_path or os.path.join(job.dest_dir, name + PART_SUFFIX)

    def release(self, job: Job) -> None:
        """The job no longer needs its name (it finished, failed or was removed)."""
        held = self._held.get(job.dest_dir)
        if held is not None and job.name is not None and held.get(job.name) == job.id:
            del held[job.name]

    def _in(self, dest_dir: str) -> dict[str, int]:
        held = self._held.get(dest_dir)
        if held is None:
            held = {j.name: j.id for j in self._jobs()
                    if j.dest_dir == dest_dir and j.name and not j.state.finished}
            for name in self._earlier(dest_dir):
                held.setdefault(name, 0)
            self._held[dest_dir] = held
        return held
