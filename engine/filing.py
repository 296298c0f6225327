"""Each job's file, from its name to its commit: the URL's name offered at dispatch, the names workers ask
for, each reserved so no two jobs share one and saved before any file is made; then the downloaded part
handed to the finisher, to be made durable under that name. Owned by the engine loop's thread."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.finisher import Committed, Finisher
from engine.jobs import Job, JobState
from engine.naming import choose_name, inside, unnumbered
from engine.reservations import Reservations
from engine.saving import SaveBatch

OFFERS_AHEAD = 64  # queued jobs given their URL's name in one go, by one save (see Engine._offer_names)
NAME_TRIES = 100  # names in a row found taken by other programs at a job's commit, before it fails


def offer_not_taken(job: Job) -> bool:
    """True for an unfinished job of an earlier run whose offered name no file has yet."""
    return (not job.state.finished and job.part_path is not None and not job.durable_bytes
            and job.validator is None and not os.path.lexists(job.part_path))


@dataclass(frozen=True)
class CommitEnd:
    """What a job's commit came to: its file named (`path`), or the error that failed it."""

    path: str | None
    error: str | None = None


class Filing:
    """The names offered and reserved, and the downloads being committed.

    `touch(job)` marks a job changed (for the store and readers) when a name of it changes here.
    """

    def __init__(self, names: Reservations, saves: SaveBatch, post: Callable[[Committed], None],
                 touch: Callable[[Job], None]) -> None:
        self._names = names
        self._saves = saves
        self._touch = touch
        self._finisher = Finisher(post)
        self.offered: set[int] = set()  # jobs given their URL's name, not yet taken by a worker
        self.committing: set[int] = set()  # downloaded jobs whose part the finisher makes durable and names
        self._renamed: dict[int, int] = {}  # committing job id -> names found taken at its commit so far

    def offer(self, jobs: Iterable[Job]) -> None:
        """Reserve each job's URL name for it, to be taken or declined by its worker."""
        for job in jobs:
            job.name, job.part_path = self._names.reserve(job, choose_name(None, job.url), None)
            self.offered.add(job.id)
            self._touch(job)

    def withdraw(self, job: Job) -> None:
        """A worker's turn with a job ended before it took the name offered with it: the name is given
        up (no file has it), and the next attempt names the file from the server's answer again."""
        if job.id in self.offered:
            self.offered.discard(job.id)
            self._names.release(job)
            job.name = job.part_path = None

    def taken(self, job: Job) -> None:
        """The job's worker took the name offered (or its file has one already)."""
        self.offered.discard(job.id)

    def reserve(self, job: Job, wanted: str) -> tuple[str, str]:
        """A name and part path for a new file of the job, the offer declined (saved before it is told)."""
        self.offered.discard(job.id)
        return self._names.reserve(job, wanted, None)

    def release(self, job: Job) -> None:
        """The job no longer needs its name (finished, failed or removed)."""
        self._names.release(job)

    def commit(self, job: Job) -> None:
        """Have the finisher make a downloaded job's part durable and give it the job's name; the job
        stays running (its worker is free for the next one) until `committed` says how it ended."""
        assert job.name is not None and job.part_path is not None
        self.offered.discard(job.id)  # (taken: the worker wrote its part)
        self.committing.add(job.id)
        self._finisher.put(job.id, job.part_path, inside(Path(job.dest_dir), job.name), job.bytes_done)

    def committed(self, job: Job | None, answer: Committed) -> CommitEnd | None:
        """Take the finisher's answer about a job; None while it goes on (a name another program took
        meanwhile is numbered, and the part committed again once the store holds the new name)."""
        self._finisher.taken(answer.job_id)
        self.committing.discard(answer.job_id)
        renamed = self._renamed.pop(answer.job_id, 0)
        if job is None or job.state is not JobState.RUNNING:
            return None  # failed by the engine itself meanwhile (its file, if named, is complete and durable)
        if answer.path is not None:
            return CommitEnd(answer.path)
        if answer.taken and renamed < NAME_TRIES:
            assert job.name is not None
            self._renamed[job.id] = renamed + 1
            job.name, _ = self._names.reserve(job, unnumbered(job.name), job.part_path)
            self._touch(job)
            self._saves.then(lambda: self.commit(job) if job.state is JobState.RUNNING else None)
            return None
        return CommitEnd(None, answer.error or f"no free name for {job.name} in the destination folder")

    def close(self, timeout: float) -> list[Committed]:
        """Wait up to `timeout` s for the commits under way; their answers not yet taken."""
        return list(self._finisher.close(timeout).values())
