"""Counts of jobs per state, bytes done and the running jobs, kept as jobs change (never by walking all)."""

from __future__ import annotations

from engine.jobs import Job, JobState


class Tallies:
    """What a status line needs, updated by `count` after every change of a job's state or bytes."""

    def __init__(self) -> None:
        self.per_state = dict.fromkeys(JobState, 0)
        self.bytes_done = 0
        self.running: set[int] = set()  # ids of RUNNING jobs
        self._counted: dict[int, tuple[JobState, int]] = {}  # job id -> (state, bytes_done) as counted

    def count(self, job: Job) -> None:
        """Count a job as it is now (in place of how it was counted before)."""
        self.forget(job.id)
        self._counted[job.id] = (job.state, job.bytes_done)
        self.per_state[job.state] += 1
        self.bytes_done += job.bytes_done
        if job.state is JobState.RUNNING:
            self.running.add(job.id)

    def forget(self, job_id: int) -> None:
        """Take a job out of the counts (before it is counted anew, or when it is removed)."""
        counted = self._counted.pop(job_id, None)
        if counted is not None:
            self.per_state[counted[0]] -= 1
            self.bytes_done -= counted[1]
            self.running.discard(job_id)
