"""The session: the one owner of job state. It queues jobs, feeds the runner and applies worker events."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.events import (
    HelpersReady,
    JobFinished,
    JobStarted,
    NameGranted,
    NameRequest,
    Progress,
    Resolved,
    Retrying,
    RetryPolicy,
    Task,
    WorkerExited,
    WorkerStarted,
)
from engine.jobs import Job, JobState, Outcome, StopAction
from engine.modes import MODES, Runner
from engine.partfile import discard
from engine.rates import RateMeter
from engine.reservations import Reservations
from engine.sources import UrlEntry
from engine.store import ErrorRecord, JobStore

log = logging.getLogger("parafetch")
IDLE_POLL = 0.1
SPEED_EVERY = 0.2  # seconds between updates of the running jobs' speeds
PROCESS_STARTS_PER_STEP = 2  # worker processes started per turn of the loop (the lock is let go between)
BATCH_PAUSE = 0.002  # seconds the loop waits between such turns (a lock let go and taken back at once
# would never be had by a reader waiting for it)
SAVE_EVERY = 0.25  # seconds between writes of changed jobs to the store
ID_BLOCK = 1024  # job ids taken from the store at a time


@dataclass(frozen=True)
class SessionStats:
    """Counts and totals for a status bar or a summary line."""

    mode: str
    workers: int
    total: int
    queued: int
    running: int
    paused: int
    done: int
    failed: int
    cancelled: int
    bytes_done: int
    speed: float
    held_back: str | None
    worker_pids: frozenset[int]
    broken: str | None = None  # why the session stopped on its own (its store cannot be written, say)

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.cancelled


@dataclass
class Changes:
    """What changed since the last call to `Session.changes`: copies of changed jobs, ids of removed ones."""

    jobs: list[Job] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)


def _copy(job: Job) -> Job:
    """A shallow copy of a job, several times quicker than `dataclasses.replace` (it runs under the lock)."""
    twin: Job = object.__new__(Job)
    twin.__dict__.update(job.__dict__)
    return twin


def _died_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"worker process was killed (signal {-exitcode}) during the download"
    return f"worker ended unexpectedly (exit code {exitcode}) during the download"


class Session:
    """Runs jobs in one mode. Every public method is safe from any thread and never blocks on the network."""

    def __init__(
        self,
        mode: str = "thread-pool",
        workers: int | None = None,
        retry: RetryPolicy | None = None,
        store: JobStore | None = None,
        restore: bool = False,
    ) -> None:
        """With a store, every job is kept there; `restore` brings back the whole stored queue."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        self.retry = retry or RetryPolicy()
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._worker_ids = itertools.count(1)  # across runners: a replaced runner's events stay its own
        self._runner: Runner = MODES[mode](self._inbox, workers, self._worker_ids)
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._waiting: list[tuple[int, int, int]] = []  # (-priority, order, job id)
        self._stopping: dict[int, JobState] = {}  # running job id -> the state it takes when it stops
        self._removing: set[int] = set()
        self._meters: dict[int, RateMeter] = {}  # running job id -> its speed, from when its bytes arrived
        self._speeds_at = 0.0
        self._dirty: set[int] = set()
        self._removed: list[int] = []
        self._counts = dict.fromkeys(JobState, 0)  # jobs per state, kept by `_touch`: stats() never walks all
        self._tallied: dict[int, tuple[JobState, int]] = {}  # job id -> (state, bytes_done) as counted
        self._bytes_done = 0
        self._active: set[int] = set()  # ids of RUNNING jobs
        self._running = False
        self._closing = False
        self._commands_sent = 0  # wait() honours every command sent before it
        self._commands_done = 0
        self._store = store
        self._restored = restore
        self._unsaved: set[int] = set()
        self._unsaved_errors: list[ErrorRecord] = []
        self._last_save = 0.0
        self._grants: list[tuple[int, NameGranted]] = []  # answers to send once the store has them
        self._names = Reservations(
            self._jobs.values,
            store.names_held if store is not None and not restore else lambda folder: set(),
        )
        self.broken: str | None = None
        self._worker_pids: frozenset[int] = frozenset()
        self._ids: Iterator[int] = itertools.count(1)
        if store is not None:
            stored = store.reconcile()
            self._ids = iter(store.reserve_ids(ID_BLOCK))
            for job in stored if restore else ():
                self._jobs[job.id] = job
                self._touch(job, save=False)
                if job.state is JobState.QUEUED:
                    self._enqueue(job)
        self._idle = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._loop, name="session", daemon=True)
        self._thread.start()

    # ---- public interface -------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._runner.name

    @property
    def stopped(self) -> bool:
        """True once the session's thread has ended (after `shutdown`): it saves nothing more."""
        return not self._thread.is_alive()

    def add(self, entries: Iterable[UrlEntry], dest_dir: str, priority: int = 0) -> list[int]:
        """Queue URLs for a folder (made if it is missing); returns their job ids.

        A URL already known for that folder is not added twice: an unfinished or failed job is queued
        again (resuming from its partial file), and a done job whose file is still there stays done.
        The checksum given now is the one that counts: a done file that does not match it is fetched
        again, and a job queued again checks the new one (or none, if none is given now).
        """
        dest_dir = os.path.abspath(dest_dir)
        with contextlib.suppress(OSError):  # each job then fails with the reason, when it runs
            os.makedirs(dest_dir, exist_ok=True)
        ids = []
        with self._lock:
            known = {(j.url, j.dest_dir): j for j in self._jobs.values()}
            for entry in entries:
                job = self._known(known.get((entry.url, dest_dir)), entry, dest_dir)
                if job is None:
                    job = Job(entry.url, dest_dir, entry.sha256, priority, id=self._next_id(),
                              credentials=entry.credentials)
                self._jobs[job.id] = job
                if job.state is JobState.QUEUED:
                    self._enqueue(job)
                self._touch(job)
                ids.append(job.id)
        self._wake()
        return ids

    def _next_id(self) -> int:
        """A new job id: from the store's reserved ids (never reused, whatever process asks), else a count."""
        job_id = next(self._ids, None)
        if job_id is None:
            assert self._store is not None
            self._ids = iter(self._store.reserve_ids(ID_BLOCK))
            job_id = next(self._ids)
        return job_id

    def _known(self, job: Job | None, entry: UrlEntry, dest_dir: str) -> Job | None:
        """The existing job for this URL and folder, made ready to run again; None when there is none."""
        if job is None and self._store is not None and not self._restored:
            job = self._store.find(entry.url, dest_dir)
        if job is None:
            return None
        if entry.credentials:
            job.credentials = entry.credentials  # the newest password wins
        if job.state is JobState.DONE:
            on_disk = job.path and os.path.isfile(job.path) and os.path.getsize(job.path) == job.bytes_done
            if on_disk and entry.sha256 in (None, job.sha256):
                return job
            return None  # the file is gone, or is not the one asked for now: fetch it as a new job
        if job.state is JobState.RUNNING:
            return job
        job.sha256_expected = entry.sha256
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            job.attempts, job.error, job.finished_at, job.resolved = 0, None, None, False
        job.move_to(JobState.QUEUED)
        return job

    def start(self) -> None:
        """Begin (or keep) running queued jobs."""
        with self._lock:
            self._running = True
        self._send(self._runner.start)

    def pause(self, job_id: int | None = None) -> None:
        """Pause one job, or every queued and running job."""
        self._send(lambda: self._each(job_id, self._pause_one))

    def resume(self, job_id: int | None = None) -> None:
        """Resume one paused job, or all of them; they continue from their partial file."""
        self._send(lambda: self._each(job_id, self._resume_one))

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job, or every job not yet finished; partial files are removed."""
        self._send(lambda: self._each(job_id, self._cancel_one))

    def retry_failed(self, job_id: int | None = None) -> None:
        """Queue a failed or cancelled job again (or all of them)."""
        self._send(lambda: self._each(job_id, self._retry_one))

    def mark_resolved(self, job_id: int | None = None) -> None:
        """Take a failed job (or all of them) off the Failed list; it stays in the history as failed."""
        self._send(lambda: self._each(job_id, self._resolve_one))

    def error_history(self, job_id: int) -> list[tuple[float, int, str]]:
        """Every failed attempt of a job, oldest first: (wall-clock time, attempt, message)."""
        return self._store.errors(job_id) if self._store is not None else []

    def remove(self, job_id: int) -> None:
        """Forget a job; a running one is cancelled first."""
        self._send(lambda: self._remove_one(job_id))

    def clear_finished(self) -> None:
        """Forget every done, failed and cancelled job."""
        self._send(self._clear_finished)

    def set_priority(self, job_id: int, priority: int) -> None:
        """Higher runs first; a queued job moves to its new place at once."""
        self._send(lambda: self._prioritise(job_id, priority))

    def set_workers(self, workers: int) -> None:
        """Resize a pool while it runs."""
        self._send(lambda: self._runner.resize(workers))

    def set_mode(self, mode: str, workers: int | None = None) -> None:
        """Switch mode; takes effect at once when nothing runs, otherwise raises ValueError."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            if self._runner.running_job_ids():
                raise ValueError("the mode cannot change while downloads run")
            old, self._runner = self._runner, MODES[mode](self._inbox, workers, self._worker_ids)
        threading.Thread(target=old.shutdown, name="runner-shutdown", daemon=True).start()

    def changes(self) -> Changes:
        """Copies of the jobs changed since the last call, in id order, and the ids removed since then."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            removed, self._removed = self._removed, []
            jobs = self._jobs
            return Changes([_copy(jobs[i]) for i in sorted(dirty) if i in jobs], removed)

    def jobs(self) -> list[Job]:
        """Copies of every job, in the order they were added."""
        with self._lock:
            return [_copy(job) for job in self._jobs.values()]

    def job(self, job_id: int) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return _copy(job) if job else None

    def worker_pids(self) -> frozenset[int]:
        """The worker processes' ids as of the loop's last turn, read without the lock (for a monitor
        that must keep sampling while the loop starts processes)."""
        return self._worker_pids

    def stats(self) -> SessionStats:
        """Counts and totals; costs the running jobs, not all of them."""
        with self._lock:
            counts = self._counts
            waiting = counts[JobState.QUEUED]
            return SessionStats(
                self._runner.name,
                self._runner.target,
                len(self._jobs),
                waiting,
                counts[JobState.RUNNING],
                counts[JobState.PAUSED],
                counts[JobState.DONE],
                counts[JobState.FAILED],
                counts[JobState.CANCELLED],
                self._bytes_done,
                sum(self._jobs[i].speed for i in self._active),
                self._runner.held_back(waiting) if self._running else None,
                frozenset(self._runner.worker_pids()),
                self.broken,
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            sent = self._commands_sent
            while (self._commands_done < sent or not self._settled()) and self._thread.is_alive():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left if left is not None else 0.5)
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every worker and end the session; running jobs go back to the queue, to resume next time."""
        with self._lock:
            self._wind_down()
        self._wake()
        self._thread.join(timeout + 5.0)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ---- the session thread ----------------------------------------------------------------------------

    def _send(self, command: Callable[[], object]) -> None:
        with self._lock:
            self._commands_sent += 1
        self._inbox.put(command)

    def _wake(self) -> None:
        self._inbox.put(None)

    def _loop(self) -> None:
        stop_deadline: float | None = None
        while True:
            more_to_start = self._running and bool(self._waiting) and self._runner.capacity() > 0
            try:  # between batches of starts the lock is free for a moment: readers get their turn
                items = [self._inbox.get(timeout=BATCH_PAUSE if more_to_start else IDLE_POLL)]
            except queue.Empty:
                items = []
            while len(items) < 1000:
                try:
                    items.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            with self._lock:
                for item in items:
                    self._handle(item)
                self._step()
                self._worker_pids = frozenset(self._runner.worker_pids())
                grants, self._grants = self._grants, []
                # Saved at once when a worker waits for it, or when the run settles (wait() then returns
                # with the store up to date, error history included).
                unsaved = self._unsaved_batch(force=bool(grants) or self._settled())
            # Outside the lock: readers and commands never wait for the disk. A reserved name is answered
            # only once the store holds it, so no file is ever made that the store does not know.
            if self._save(*unsaved):
                for worker_id, grant in grants:
                    self._runner.answer(worker_id, grant)
            with self._lock:
                if self._settled():
                    self._idle.notify_all()
                if self._closing:
                    stop_deadline = stop_deadline or time.monotonic() + 3.0
                    if not self._runner.running_job_ids() or time.monotonic() > stop_deadline:
                        break
        self._runner.shutdown()
        with self._lock:
            for job in self._jobs.values():
                if job.state is JobState.RUNNING:  # its worker never answered: keep it for next time
                    job.move_to(JobState.QUEUED)
                    self._touch(job)
            unsaved = self._unsaved_batch(force=True)
        self._save(*unsaved)
        with self._lock:
            self._idle.notify_all()

    def _step(self) -> None:
        """Start what may start, and escalate stops not honoured in time (under the lock)."""
        try:
            if self._running:
                self._dispatch()
            self._runner.tick()
            self._update_speeds()
        except Exception as exc:  # a mode that cannot start a worker, say: stop rather than spin
            log.exception("the session could not run its workers")
            self._break(f"could not run the downloads: {type(exc).__name__}: {exc}")

    def _update_speeds(self) -> None:
        """Every SPEED_EVERY seconds, each running job's speed from its meter (a stalled one slows to 0)."""
        now = time.monotonic()
        if now - self._speeds_at < SPEED_EVERY:
            return
        self._speeds_at = now
        for job_id in list(self._active):  # _touch takes each out of the set and puts it back
            job, meter = self._jobs[job_id], self._meters.get(job_id)
            speed = meter.rate(now) if meter is not None else 0.0
            if speed != job.speed:
                job.speed = speed
                self._touch(job, save=False)

    def _break(self, reason: str) -> None:
        """Stop the whole run, for a reason that no single job explains (under the lock)."""
        if self.broken is None:
            self.broken = reason
        self._wind_down()
        self._grants.clear()
        self._idle.notify_all()

    def _wind_down(self) -> None:
        """Start nothing more and stop what runs; stopped jobs go back to the queue (under the lock)."""
        self._closing = True
        self._running = False
        for job in self._jobs.values():
            if job.state is JobState.RUNNING:
                self._stopping[job.id] = JobState.QUEUED
                self._runner.stop_job(job.id, StopAction.PAUSE)

    def _touch(self, job: Job, save: bool = True) -> None:
        """Mark a job changed: for the next `changes()`, and (unless only its speed moved) for the store.

        Every change to a job's state or bytes is followed by this call, which keeps the tallies in step.
        """
        self._dirty.add(job.id)
        if save:
            self._unsaved.add(job.id)
        self._untally(job.id)
        self._tallied[job.id] = (job.state, job.bytes_done)
        self._counts[job.state] += 1
        self._bytes_done += job.bytes_done
        if job.state is JobState.RUNNING:
            self._active.add(job.id)

    def _untally(self, job_id: int) -> None:
        """Take a job out of the counts and totals (before it is counted anew, or when it is forgotten)."""
        counted = self._tallied.pop(job_id, None)
        if counted is not None:
            self._counts[counted[0]] -= 1
            self._bytes_done -= counted[1]
            self._active.discard(job_id)

    def _unsaved_batch(self, force: bool = False) -> tuple[list[Job], list[ErrorRecord]]:
        """Copies of the jobs changed since the last save, and the failed attempts recorded since, at most
        every SAVE_EVERY seconds (under lock)."""
        if self._store is None or not (self._unsaved or self._unsaved_errors):
            return [], []
        now = time.monotonic()
        if not force and now - self._last_save < SAVE_EVERY:
            return [], []
        jobs = [_copy(self._jobs[i]) for i in sorted(self._unsaved) if i in self._jobs]
        errors = [e for e in self._unsaved_errors if e[0] in self._jobs]
        self._unsaved.clear()
        self._unsaved_errors = []
        self._last_save = now
        return jobs, errors

    def _save(self, jobs: list[Job], errors: list[ErrorRecord]) -> bool:
        """Write jobs to the store in one transaction (only the session thread writes: saves keep order).

        False when it could not: the session is then broken, and stops the run (nothing is done that the
        store would not know about).
        """
        if self._store is None or self.broken is not None:
            return self.broken is None
        if not jobs and not errors:
            return True
        try:
            self._store.save_many(jobs, errors)
        except (sqlite3.Error, OSError, OverflowError, ValueError) as exc:
            log.error("cannot write the job store %s: %s", self._store.path, exc)
            with self._lock:
                self._break(f"cannot write the job queue in {self._store.data_dir}: {exc}")
            return False
        return True

    def _settled(self) -> bool:
        running = self._counts[JobState.RUNNING]
        return (running == 0 and self._counts[JobState.QUEUED] == 0) or (
            not self._running and not self._runner.running_job_ids() and running == 0
        )

    def _handle(self, item: Any) -> None:
        """Apply one command or worker event; whatever goes wrong fails only the job it is about."""
        if item is None:
            return
        if callable(item):
            try:
                item()
            except Exception:
                log.exception("a command to the session failed")
            finally:
                self._commands_done += 1
            return
        handler = self._HANDLERS.get(type(item))
        if handler is None:
            return
        try:
            handler(self, item)
        except Exception as exc:
            log.exception("the session could not apply %r", item)
            self._internal_error(item, f"internal error: {type(exc).__name__}: {exc}")

    def _internal_error(self, event: Any, message: str) -> None:
        """Fail the job an event was about; its worker is asked to stop (a late answer is ignored)."""
        job = self._jobs.get(getattr(event, "job_id", -1))
        if isinstance(event, NameRequest):
            self._grants.append((event.worker_id, NameGranted(event.job_id, None, None)))
        if job is None or job.state.finished:
            return
        if job.state is JobState.RUNNING:
            self._runner.stop_job(job.id, StopAction.PAUSE)
        self._stopping.pop(job.id, None)
        self._names.release(job)
        job.move_to(JobState.FAILED)
        job.error, job.speed, job.finished_at = message, 0.0, time.monotonic()
        self._touch(job)

    def _dispatch(self) -> None:
        """Start queued jobs while the mode has room. A process takes milliseconds to start: a few at a
        time, so readers of the session (the snapshot, the monitor) never wait behind a burst of 64."""
        capacity = self._runner.capacity()
        if self._runner.uses_processes:
            capacity = min(capacity, PROCESS_STARTS_PER_STEP)
        while capacity > 0 and self._waiting:
            negative_priority, _, job_id = heapq.heappop(self._waiting)
            job = self._jobs.get(job_id)
            if job is None or job.state is not JobState.QUEUED or -negative_priority != job.priority:
                continue  # a stale entry: the job ran, or its priority changed and it was queued anew
            job.move_to(JobState.RUNNING)
            job.error = None
            if job.started_at is None:
                job.started_at = time.monotonic()
            self._touch(job)
            self._runner.run(
                Task(
                    job.id,
                    job.url,
                    job.dest_dir,
                    job.sha256_expected,
                    job.name,
                    job.part_path,
                    job.validator,
                    self.retry,
                    job.total,
                    job.durable_bytes,
                    job.part_sha256,
                    job.credentials,
                )
            )
            capacity -= 1

    def _enqueue(self, job: Job) -> None:
        """Queue by priority (higher first), then by the order jobs were added (their ids)."""
        heapq.heappush(self._waiting, (-job.priority, job.id, job.id))

    def _prioritise(self, job_id: int, priority: int) -> None:
        job = self._jobs.get(job_id)
        if job is None or job.priority == priority:
            return
        job.priority = priority
        if job.state is JobState.QUEUED:
            self._enqueue(job)
        self._touch(job)

    def _each(self, job_id: int | None, action: Callable[[Job], None]) -> None:
        targets = (
            [self._jobs[job_id]]
            if job_id in self._jobs
            else []
            if job_id is not None
            else list(self._jobs.values())
        )
        for job in targets:
            action(job)
            self._touch(job)

    def _pause_one(self, job: Job) -> None:
        if job.state is JobState.QUEUED:
            job.move_to(JobState.PAUSED)
        elif job.state is JobState.RUNNING:
            self._stopping[job.id] = JobState.PAUSED
            self._runner.stop_job(job.id, StopAction.PAUSE)

    def _resume_one(self, job: Job) -> None:
        if job.state is JobState.PAUSED:
            job.move_to(JobState.QUEUED)
            self._enqueue(job)
        elif job.state is JobState.RUNNING and self._stopping.get(job.id) is JobState.PAUSED:
            self._stopping[job.id] = JobState.QUEUED  # too late to take back the stop: re-queue when it lands

    def _cancel_one(self, job: Job) -> None:
        if job.state in (JobState.QUEUED, JobState.PAUSED):
            job.move_to(JobState.CANCELLED)
            job.finished_at = time.monotonic()
            discard(job.part_path)
            job.part_path, job.durable_bytes, job.part_sha256 = None, 0, None
        elif job.state is JobState.RUNNING:
            self._stopping[job.id] = JobState.CANCELLED
            self._runner.stop_job(job.id, StopAction.CANCEL)

    def _resolve_one(self, job: Job) -> None:
        if job.state is JobState.FAILED:
            job.resolved = True

    def _retry_one(self, job: Job) -> None:
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            job.move_to(JobState.QUEUED)
            job.error, job.finished_at, job.attempts, job.resolved = None, None, 0, False
            self._enqueue(job)

    def _clear_finished(self) -> None:
        for job in list(self._jobs.values()):
            if job.state.finished:
                self._remove_one(job.id)

    def _remove_one(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if job.state is JobState.RUNNING:
            self._removing.add(job_id)
            self._cancel_one(job)
            return
        if job.state in (JobState.QUEUED, JobState.PAUSED):
            discard(job.part_path)
        self._names.release(job)
        del self._jobs[job_id]
        self._untally(job_id)
        self._dirty.discard(job_id)
        self._unsaved.discard(job_id)
        self._removed.append(job_id)
        if self._store is not None:
            self._store.remove(job_id)

    # ---- worker events -----------------------------------------------------------------------------------

    def _on_started(self, event: JobStarted) -> None:
        job = self._jobs.get(event.job_id)
        if job is None:
            return
        job.attempts = event.attempt
        job.worker_pid, job.worker_thread = event.pid, event.thread
        job.next_attempt_at = None
        self._touch(job)

    def _on_name_request(self, event: NameRequest) -> None:
        """Reserve a final name (and `.part` path) in the job's folder; the answer goes out after the save."""
        job = self._jobs.get(event.job_id)
        if job is None or job.state is not JobState.RUNNING:
            self._grants.append((event.worker_id, NameGranted(event.job_id, None, None)))
            return
        name, part_path = self._names.reserve(job, event.wanted, event.part_path)
        job.name, job.part_path, job.total, job.validator = name, part_path, event.total, event.validator
        if event.part_path is None:  # a new file: what a Resolved event says of it, it says here
            job.bytes_done = job.durable_bytes = 0
            job.part_sha256 = None
            self._meters[job.id] = RateMeter()
        self._touch(job)
        self._grants.append((event.worker_id, NameGranted(job.id, name, part_path)))

    def _on_resolved(self, event: Resolved) -> None:
        job = self._jobs.get(event.job_id)
        if job is None:
            return
        job.name, job.part_path, job.total, job.validator = (
            event.name,
            event.part_path,
            event.total,
            event.validator,
        )
        job.bytes_done = job.durable_bytes = event.offset
        if event.offset == 0:
            job.part_sha256 = None
        self._meters[job.id] = RateMeter()
        self._touch(job)

    def _on_progress(self, event: Progress) -> None:
        job = self._jobs.get(event.job_id)
        if job is None:
            return
        if not isinstance(event.bytes_done, int) or not isinstance(event.durable, int):  # before any change
            raise TypeError(f"progress must count bytes, not {event.bytes_done!r} and {event.durable!r}")
        self._meters.setdefault(job.id, RateMeter()).add(event.at, event.bytes_done)
        job.bytes_done = event.bytes_done
        durable_moved = event.durable > job.durable_bytes
        if durable_moved:
            job.durable_bytes, job.part_sha256 = event.durable, event.durable_sha256
        self._touch(job, save=durable_moved)

    def _on_retrying(self, event: Retrying) -> None:
        job = self._jobs.get(event.job_id)
        if job is None:
            return
        job.error = f"attempt {event.attempt} failed: {event.error}"
        job.next_attempt_at = time.monotonic() + event.delay
        if self._store is not None:
            self._unsaved_errors.append((job.id, time.time(), event.attempt, event.error))
        job.speed = 0.0
        self._touch(job)

    def _on_finished(self, event: JobFinished) -> None:
        self._runner.job_finished(event.worker_id)
        job = self._jobs.get(event.job_id)
        if job is None or job.state is not JobState.RUNNING:
            return  # forgotten, or already failed by the session itself
        job.attempts = event.attempts
        outcome = event.outcome
        if outcome is Outcome.DONE:
            job.path, job.sha256 = event.path, event.sha256
            job.bytes_done = job.durable_bytes = event.bytes_done
            job.part_path, job.part_sha256 = None, None
        elif outcome is Outcome.FAILED:
            if event.part_kept:
                job.bytes_done = job.durable_bytes
            else:  # the partial file was removed with the failure
                job.part_path, job.part_sha256 = None, None
                job.bytes_done = job.durable_bytes = 0
        stopped = outcome in (Outcome.PAUSED, Outcome.CANCELLED)  # the session says where a stopped job goes
        state = self._stopping.get(job.id, outcome.state) if stopped else outcome.state
        self._settle(job, state, event.error)

    def _on_worker_exited(self, event: WorkerExited) -> None:
        job_id = self._runner.worker_exited(event.worker_id)
        job = self._jobs.get(job_id) if job_id is not None else None
        if job is not None and job.state is JobState.RUNNING:
            self._settle(job, self._stopping.get(job.id, JobState.FAILED), _died_message(event.exitcode))

    def _settle(self, job: Job, state: JobState, error: str | None) -> None:
        """Apply the end of a worker's turn with a job: it moves to `state`."""
        self._stopping.pop(job.id, None)
        self._meters.pop(job.id, None)
        job.speed, job.next_attempt_at = 0.0, None
        job.move_to(state)
        if state is JobState.QUEUED:
            self._enqueue(job)
        elif state is JobState.CANCELLED:
            discard(job.part_path)
            job.part_path, job.durable_bytes, job.part_sha256 = None, 0, None
        elif state in (JobState.DONE, JobState.FAILED):
            job.error = error
        if job.state.finished:
            job.finished_at = time.monotonic()
            self._names.release(job)
        self._touch(job)
        if job.state is JobState.FAILED and self._store is not None and error:
            self._unsaved_errors.append((job.id, time.time(), job.attempts, error))
        if job.id in self._removing and job.state is not JobState.RUNNING:
            self._removing.discard(job.id)
            self._remove_one(job.id)

    _HANDLERS: ClassVar[dict[type, Callable[[Session, Any], None]]] = {
        JobStarted: _on_started,
        NameRequest: _on_name_request,
        Resolved: _on_resolved,
        Progress: _on_progress,
        Retrying: _on_retrying,
        JobFinished: _on_finished,
        WorkerExited: _on_worker_exited,
        WorkerStarted: lambda self, event: None,
        HelpersReady: lambda self, event: self._runner.bring_up(),
    }
