"""The runner base: hands tasks to workers; each mode says only which workers, how many, and for how long."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

from engine.events import HelpersReady, NameGranted, Task
from engine.jobs import StopAction
from engine.limits import Ceiling
from engine.workers import (
    EventQueue,
    ProcessPump,
    ProcessWorker,
    ThreadWorker,
    Worker,
    process_context,
    start_process_helpers,
)

log = logging.getLogger("parafetch")

STOP_GRACE = 2.0  # seconds a process worker gets to honour a stop before it is terminated
KILL_GRACE = 1.0  # seconds after terminate before kill


class Runner:
    """Runs tasks on workers. Modes override the class attributes and `ceiling`."""

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    uses_processes: ClassVar[bool] = False
    one_shot: ClassVar[bool] = False  # a new worker for every job
    resizable: ClassVar[bool] = False

    def __init__(
        self, events: EventQueue, workers: int | None = None, worker_ids: Iterator[int] | None = None
    ) -> None:
        """`worker_ids` numbers the workers; a session gives every runner it makes the same one, so an
        event from the workers of a runner it replaced never matches a worker of the new one."""
        self.events = events
        self.target = max(1, workers or self.default_workers())
        self.workers: dict[int, Worker] = {}
        # Kept as workers change, so that no question asked per event walks every worker (threads mode may
        # have a thousand): the workers by the job they run, and those with a stop to escalate.
        self._by_job: dict[int, Worker] = {}
        self._stopping: set[Worker] = set()
        self._ids = worker_ids if worker_ids is not None else itertools.count(1)
        self._pump: ProcessPump | None = None
        self._ceiling: Ceiling | None = None
        self._helpers_ready = threading.Event()  # the process helpers run: workers may start
        self._helpers_asked = False
        self._pool_wanted = False  # start() came before the helpers were ready
        if not self.uses_processes:
            self._helpers_ready.set()

    def _ask_for_helpers(self) -> None:
        """Start the process helpers on a thread of their own, once, when work first comes (not when the
        runner is made: one made only to read its ceiling needs none)."""
        if self.uses_processes and not self._helpers_asked:
            self._helpers_asked = True
            threading.Thread(target=self._start_helpers, name="process-helpers", daemon=True).start()

    def _start_helpers(self) -> None:
        try:
            start_process_helpers()
        except Exception:  # the first worker's start then says what is wrong
            log.exception("the process helpers did not start")
        finally:
            self._helpers_ready.set()
            self.events.put(HelpersReady())  # the session then calls bring_up on its own thread

    def bring_up(self) -> None:
        """The helpers are ready: a pool asked to start comes up now."""
        if self._pool_wanted:
            self.start()

    @classmethod
    def default_workers(cls) -> int:
        return 1

    def ceiling(self) -> Ceiling:
        """The most jobs this mode runs at once (pools: their size)."""
        return Ceiling(self.target, f"the pool size of {self.target}")

    def limit(self) -> int:
        if self._ceiling is None or not self.workers:
            self._ceiling = self.ceiling()  # re-read free memory at the start of each burst
        return self._ceiling.limit

    def held_back(self, waiting: int) -> str | None:
        """Why queued jobs wait although the mode is unbounded, or None."""
        if not self.one_shot or waiting == 0 or self.busy() < self.limit():
            return None
        assert self._ceiling is not None
        return f"{waiting} waiting: at most {self._ceiling.limit} at once, set by {self._ceiling.reason}"

    def busy(self) -> int:
        return len(self._by_job)

    def capacity(self) -> int:
        """How many more jobs may start right now (none until the process helpers run)."""
        if not self._helpers_ready.is_set():
            self._ask_for_helpers()
            return 0
        return max(0, self.limit() - self.busy())

    def live_workers(self) -> int:
        return sum(1 for w in self.workers.values() if not w.retiring)

    def worker_pids(self) -> set[int]:
        return {w.pid for w in self.workers.values() if self.uses_processes and w.pid}

    def running_job_ids(self) -> set[int]:
        return set(self._by_job)

    def start(self) -> None:
        """Bring a pool up to its size (one-shot modes start workers per job; a pool of processes once
        their helpers run)."""
        self._ask_for_helpers()
        if self.one_shot:
            return
        if not self._helpers_ready.is_set():
            self._pool_wanted = True
            return
        while self.live_workers() < self.target:
            self._spawn(None)

    def run(self, task: Task) -> int:
        """Start a task on an idle worker, or on a new one; returns the worker's id."""
        if self.one_shot:
            worker = self._by_job[task.job_id] = self._spawn(task)
            return worker.worker_id
        idle = next((w for w in self.workers.values() if w.job_id is None and not w.retiring), None)
        worker = idle or self._spawn(None)
        worker.assign(task)
        self._by_job[task.job_id] = worker
        return worker.worker_id

    def _spawn(self, task: Task | None) -> Worker:
        worker_id = next(self._ids)
        worker: Worker
        if self.uses_processes:
            if self._pump is None:
                self._pump = ProcessPump(self.events)
                self._pump.start()
            worker = ProcessWorker(worker_id, self.events, process_context(), self._pump)
        else:
            worker = ThreadWorker(worker_id, self.events)
        self.workers[worker_id] = worker
        worker.start(task)
        return worker

    def job_finished(self, worker_id: int) -> None:
        """A worker reported the end of its job; shrink the pool here if it is over size."""
        worker = self.workers.get(worker_id)
        if worker is None:
            return
        self._release(worker)
        if not worker.retiring and self.live_workers() > self.target:
            worker.retire()

    def worker_exited(self, worker_id: int) -> int | None:
        """Forget an ended worker; returns the job it still held (it died with it), if any."""
        worker = self.workers.pop(worker_id, None)
        if worker is None:
            return None
        job_id = worker.job_id
        self._release(worker)
        if not self.one_shot and job_id is not None:
            self.start()  # a pool replaces a worker that died under a job
        return job_id

    def _release(self, worker: Worker) -> None:
        """The worker holds no job any more."""
        if worker.job_id is not None and self._by_job.get(worker.job_id) is worker:
            del self._by_job[worker.job_id]
        worker.job_id = None
        worker.stop_deadline = None
        self._stopping.discard(worker)

    def answer(self, worker_id: int, message: NameGranted) -> None:
        """Pass the session's answer to the worker waiting for it (a worker gone by now needs none)."""
        worker = self.workers.get(worker_id)
        if worker is not None:
            worker.answer(message)

    def stop_job(self, job_id: int, action: StopAction) -> None:
        """Ask the worker running a job to pause or cancel it; processes are forced after a grace period."""
        worker = self._by_job.get(job_id)
        if worker is not None:
            worker.request_stop(job_id, action)
            if self.uses_processes and worker.stop_deadline is None:
                worker.stop_deadline = time.monotonic() + STOP_GRACE
                self._stopping.add(worker)

    def next_deadline(self) -> float | None:
        """When `tick` next has a stop to escalate (monotonic), or None."""
        deadlines = [
            w.stop_deadline if w.terminated_at is None else w.terminated_at + KILL_GRACE
            for w in self._stopping
            if w.stop_deadline is not None
        ]
        return min(deadlines, default=None)

    def tick(self) -> None:
        """Escalate stops that were not honoured in time."""
        now = time.monotonic()
        for worker in list(self._stopping):
            if worker.stop_deadline is None or now < worker.stop_deadline:
                continue
            if worker.terminated_at is None:
                worker.terminate()
                if worker.terminated_at is None:  # it had ended already: its exit is on the way
                    worker.stop_deadline = None
            elif now - worker.terminated_at >= KILL_GRACE:
                worker.kill()
                worker.stop_deadline = None  # nothing more to escalate; its exit is on the way
            if worker.stop_deadline is None:
                self._stopping.discard(worker)

    def resize(self, workers: int) -> None:
        """Resize a running pool: idle workers beyond the size retire now, busy ones after their job."""
        if not self.resizable:
            return
        self.target = max(1, workers)
        self._ceiling = None
        for worker in list(self.workers.values()):
            if self.live_workers() <= self.target:
                break
            if worker.job_id is None and not worker.retiring:
                worker.retire()
        if self.workers:
            self.start()

    def shutdown(self, timeout: float = 5.0) -> None:
        """End every worker: retire, wait, then terminate and kill any process that lingers."""
        for worker in self.workers.values():
            worker.retire()
        deadline = time.monotonic() + timeout
        for worker in list(self.workers.values()):
            worker.join(max(0.0, deadline - time.monotonic()))
        for worker in list(self.workers.values()):
            if worker.alive and self.uses_processes:
                worker.terminate()
                worker.join(KILL_GRACE)
                worker.kill()
                worker.join(KILL_GRACE)
        if self._pump is not None:
            self._pump.close()
