"""Which jobs changed, numbered, so that any number of readers can each ask for the changes since their
last look without taking them from one another."""

from __future__ import annotations

from collections import OrderedDict, deque

from engine.jobs import Job, JobView
from engine.protocol import Changes

KEEP_REMOVED = 10_000  # removals remembered; a reader further behind gets a complete listing instead


class ChangeLog:
    """Every change gets the next sequence number; a job is listed once, at its newest change."""

    def __init__(self) -> None:
        self.seq = 0
        self._changed: OrderedDict[int, int] = OrderedDict()  # job id -> seq of its newest change
        self._removed: deque[tuple[int, int]] = deque()  # (seq, job id), oldest first
        self._floor = 0  # removals numbered up to here are forgotten

    def touched(self, job_id: int) -> None:
        self.seq += 1
        self._changed[job_id] = self.seq
        self._changed.move_to_end(job_id)

    def removed(self, job_id: int) -> None:
        self.seq += 1
        self._changed.pop(job_id, None)
        self._removed.append((self.seq, job_id))
        if len(self._removed) > KEEP_REMOVED:
            self._floor = self._removed.popleft()[0]

    def since(self, seq: int, jobs: dict[int, Job], keep_credentials: bool = True) -> Changes:
        """Views of the jobs changed after `seq` (logins left out unless kept) and the ids removed after
        it; costs the changes, not the jobs (unless the reader is so far behind that it needs them all)."""
        if seq < self._floor:
            every = sorted(jobs.values(), key=lambda j: j.id)
            return Changes([JobView.of(j, keep_credentials) for j in every], [], self.seq, complete=True)
        ids = []
        for job_id, at in reversed(self._changed.items()):
            if at <= seq:
                break
            ids.append(job_id)
        removed = []
        for at, job_id in reversed(self._removed):
            if at <= seq:
                break
            removed.append(job_id)
        ids.sort()
        removed.reverse()
        return Changes([JobView.of(jobs[i], keep_credentials) for i in ids], removed, self.seq)
