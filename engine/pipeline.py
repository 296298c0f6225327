"""The pipeline option: downloads in a thread pool, a CPU stage in a process pool, a bounded queue between."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable

from engine.events import RetryPolicy
from engine.jobs import Job, JobState
from engine.protocol import Changes, SessionStats
from engine.session import Session
from engine.sources import UrlEntry
from engine.stage import Stage, StageResult

PIPELINE = "pipeline"
PIPELINE_LABEL = "pipeline (thread pool + process pool)"
PIPELINE_DESCRIPTION = (
    "Downloads run in a thread pool; each finished file is then hashed (SHA-256, checked against the "
    "download) and image files thumbnailed in a pool of processes, one per CPU."
)
DOWNLOAD_MODE = "thread-pool"  # the mode the pipeline's downloads run in
FEED_POLL = 0.05  # seconds between looks at the session for newly finished downloads


class Pipeline:
    """Downloads in Session("thread-pool"); a feeder thread puts each finished file on the Stage's bounded
    queue, and the Stage hands them to a process pool, never more at once than it has processes.

    When the queue is full the feeder blocks while the downloads go on, so the stage never holds more than
    `bound` files (queue_size waiting plus stage_workers being processed). Uses no job store.
    """

    def __init__(
        self,
        workers: int | None = None,
        stage_workers: int | None = None,
        queue_size: int = 8,
        cpu_rounds: int = 0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.session = Session(DOWNLOAD_MODE, workers, retry)
        self.stage = Stage(stage_workers, max(1, queue_size), cpu_rounds)
        self._lock = threading.Lock()
        self._changed: dict[int, Job] = {}  # what changed in the session, kept for `changes()`
        self._removed: list[int] = []
        self._fed: set[int] = set()
        self._cancel = threading.Event()
        self._feeder = threading.Thread(target=self._feed, name="pipeline-feeder", daemon=True)

    @property
    def bound(self) -> int:
        return self.stage.queue_size + self.stage.workers

    @property
    def max_in_flight(self) -> int:
        """The most files the stage ever held (queued plus being processed)."""
        return self.stage.max_in_flight

    @property
    def feeder_waits(self) -> int:
        """How often the feeder found the queue full and had to wait."""
        return self.stage.waits

    @property
    def stage_cpu_s(self) -> float:
        return self.stage.cpu_s

    @property
    def stage_failures(self) -> int:
        return self.stage.failures

    def results(self) -> list[StageResult]:
        return self.stage.results()

    def add(self, entries: Iterable[UrlEntry], dest_dir: str, priority: int = 0) -> list[int]:
        return self.session.add(entries, dest_dir, priority)

    def start(self) -> None:
        """Start the downloads, the stage and the feeder between them (once)."""
        if not self.stage.started:
            self.stage.start()
            self.session.start()
            self._feeder.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every download has ended and every downloaded file has been through the stage."""
        return self.stage.wait(timeout) if self.stage.started else self.session.wait(timeout)

    def cancel(self) -> None:
        """Cancel the downloads and the stage; files already processed keep their results."""
        self._cancel.set()
        self.stage.cancel()
        self.session.cancel()

    def shutdown(self) -> None:
        """End everything and wait for it: the feeder, the stage processes, the download workers."""
        if not self.stage.wait(0):
            self.cancel()
        if self._feeder.is_alive():
            self._feeder.join(10.0)
        self.stage.shutdown()
        self.session.shutdown()

    def changes(self) -> Changes:
        """Like Session.changes: the jobs changed since the last call (read here, never on `session`)."""
        with self._lock:
            self._pull()
            changed = Changes(list(self._changed.values()), self._removed)
            self._changed, self._removed = {}, []
        return changed

    def _pull(self) -> list[Job]:
        """Take the session's changes (call with the lock held); returns downloads done and not yet fed."""
        changes = self.session.changes()
        self._changed.update((job.id, job) for job in changes.jobs)
        self._removed += changes.removed
        done = [j for j in changes.jobs if j.state is JobState.DONE and j.path and j.id not in self._fed]
        self._fed.update(j.id for j in done)
        return done

    def jobs(self) -> list[Job]:
        return self.session.jobs()

    def stats(self) -> SessionStats:
        """The download session's stats, with the stage processes seen so far among the worker pids."""
        stats = self.session.stats()
        return dataclasses.replace(stats, worker_pids=stats.worker_pids | self.stage.pids())

    def _feed(self) -> None:
        """Put each newly finished download on the stage's queue, blocking while it is full; then close it."""
        while not self._cancel.is_set():
            settled = self.session.wait(FEED_POLL)
            with self._lock:
                done = self._pull()
            for job in done:
                if not self.stage.put((job.id, str(job.path), job.sha256)):
                    return
            if settled:
                self.stage.close()
                return
