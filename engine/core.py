"""The engine's state and decisions: jobs, their queue, the runner, and what each command and worker event
does to them. Single-threaded: everything here runs on the engine loop's thread, with no lock."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from engine import protocol
from engine.changelog import ChangeLog
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
from engine.filing import OFFERS_AHEAD, Filing, offer_not_taken
from engine.finisher import Committed
from engine.jobs import Job, JobState, JobView, Outcome, StopAction
from engine.modes import MODES, Runner
from engine.partfile import discard
from engine.protocol import SessionStats
from engine.rates import RateMeter
from engine.reservations import Reservations
from engine.saving import SaveBatch
from engine.sources import UrlEntry
from engine.stage import StageConfig, StageDone
from engine.stages import Stages
from engine.store import JobStore
from engine.tallies import Tallies

log = logging.getLogger("parafetch")
SPEED_EVERY = 0.2  # seconds between updates of the running jobs' speeds
PROCESS_STARTS_PER_STEP = 2  # worker processes started per turn of the loop (a sample or snapshot may
# come between turns: 64 processes take seconds to start on two cores)
STOP_WAIT = 3.0  # seconds a closing engine waits for its running jobs to stop before it ends them
ID_BLOCK = 1024  # job ids taken from the store at a time

Clock = Callable[[], float]


def _died_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"worker process was killed (signal {-exitcode}) during the download"
    return f"worker ended unexpectedly (exit code {exitcode}) during the download"


class Engine:
    """Runs jobs in one mode. Call it from one thread only (the engine loop's); it never blocks on the
    network, and an unexpected failure in a handler fails the one job it was about.

    `clock` is monotonic (deadlines, speeds); `wall` is the wall clock of the times a job records.
    """

    def __init__(
        self,
        inbox: Any,
        mode: str = "thread-pool",
        workers: int | None = None,
        retry: RetryPolicy | None = None,
        store: JobStore | None = None,
        restore: bool = False,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        stage: StageConfig | None = None,
    ) -> None:
        """Worker events go to `inbox`. With a store every job is kept there; `restore` brings back the
        whole stored queue. With a `stage`, every file downloaded goes through it (the pipeline)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        self.retry = retry or RetryPolicy()
        self._inbox = inbox
        self._clock, self._wall = clock, wall
        self._worker_ids = itertools.count(1)  # across runners: a replaced runner's events stay its own
        self._runner: Runner = MODES[mode](inbox, workers, self._worker_ids)
        self._jobs: dict[int, Job] = {}
        self._waiting: list[tuple[int, int, int]] = []  # (-priority, order, job id)
        self._stopping: dict[int, JobState] = {}  # running job id -> the state it takes when it stops
        self._removing: set[int] = set()
        self._meters: dict[int, RateMeter] = {}  # running job id -> its speed, from when its bytes arrived
        self._speeds_at = float("-inf")
        self.changes = ChangeLog()
        self.tallies = Tallies()
        self._saves = SaveBatch(store)
        self._running = False
        self._closing_at: float | None = None  # when a shutdown (or a broken store) began
        self._store = store
        self._restored = restore
        names = Reservations(
            self._jobs.values,
            store.names_held if store is not None and not restore else lambda folder: set(),
        )
        self._filing = Filing(names, self._saves, inbox.put, self._touch)
        self.broken: str | None = None
        self._ids: Iterator[int] = itertools.count(1)
        self._stages = Stages(inbox, stage)
        if store is not None:
            stored = store.reconcile()
            self._ids = iter(store.reserve_ids(ID_BLOCK))
            for job in stored if restore else ():
                self._jobs[job.id] = job
                self._touch(job, save=False)
                if job.state is JobState.QUEUED:
                    self._enqueue(job)
                if offer_not_taken(job):
                    self._filing.offered.add(job.id)

    @property
    def mode(self) -> str:
        return self._runner.name

    # ---- commands ----------------------------------------------------------------------------------------

    def apply(self, command: protocol.Command) -> object:
        """Carry out one command and return its answer (job ids for Add, the thing asked for by an Ask);
        ValueError when it cannot be done, in words for the person."""
        match command:
            case protocol.Add(entries, dest_dir, priority):
                return self._add(entries, dest_dir, priority)
            case protocol.Start():
                self._running = True
                self._runner.start()
            case protocol.Pause(job_id):
                self._each(job_id, self._pause_one)
            case protocol.Resume(job_id):
                self._each(job_id, self._resume_one)
            case protocol.Cancel(job_id):
                self._each(job_id, self._cancel_one)
                if job_id is None:
                    self._stages.cancel()
            case protocol.RetryFailed(job_id):
                self._each(job_id, self._retry_one)
            case protocol.MarkResolved(job_id):
                self._each(job_id, self._resolve_one)
            case protocol.Remove(job_id):
                self._remove_one(job_id)
            case protocol.ClearFinished():
                for job in list(self._jobs.values()):
                    if job.state.finished:
                        self._remove_one(job.id)
            case protocol.SetPriority(job_id, priority):
                self._prioritise(job_id, priority)
            case protocol.SetMode(mode, workers):
                self._set_mode(mode, workers)
            case protocol.SetWorkers(workers):
                self._runner.resize(workers)
            case protocol.SetStage(config):
                self._stages.switch_to(config)
            case protocol.TakeStageResults():
                return self._stages.take_results()
            case protocol.AskHistory(job_id):
                errors = self._store.errors(job_id) if self._store is not None else []
                return protocol.History(job_id, tuple(errors))
            case protocol.AskLogins():
                return protocol.Logins({j.id: j.credentials for j in self._jobs.values() if j.credentials})
            case protocol.AskChanges(since):
                return self.changes_since(since)
            case protocol.AskJobs():
                return [JobView.of(job) for job in self._jobs.values()]
            case protocol.AskJob(job_id):
                found = self._jobs.get(job_id)
                return JobView.of(found) if found else None
            case protocol.AskStats():
                return self.stats()
            case protocol.Shutdown():
                self._wind_down()
            case _:
                raise TypeError(f"not a command: {command!r}")
        return None

    def _add(self, entries: Iterable[UrlEntry], dest_dir: str, priority: int) -> list[int]:
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

    def _set_mode(self, mode: str, workers: int | None) -> None:
        """Switch mode at once when nothing runs; the old runner's workers end on a thread of their own."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if self._runner.running_job_ids():
            raise ValueError("the mode cannot change while downloads run")
        old, self._runner = self._runner, MODES[mode](self._inbox, workers, self._worker_ids)
        threading.Thread(target=old.shutdown, name="runner-shutdown", daemon=True).start()

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
            job.finished_at = self._wall()
            self._filing.withdraw(job)  # (its part path names no file of ours)
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

    def _remove_one(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if job.state is JobState.RUNNING:
            self._removing.add(job_id)
            self._cancel_one(job)
            return
        self._filing.withdraw(job)
        if job.state in (JobState.QUEUED, JobState.PAUSED):
            discard(job.part_path)
        self._filing.release(job)
        del self._jobs[job_id]
        self.tallies.forget(job_id)
        self.changes.removed(job_id)
        self._saves.removed(job_id)

    def _prioritise(self, job_id: int, priority: int) -> None:
        job = self._jobs.get(job_id)
        if job is None or job.priority == priority:
            return
        job.priority = priority
        if job.state is JobState.QUEUED:
            self._enqueue(job)
        self._touch(job)

    def _enqueue(self, job: Job) -> None:
        """Queue by priority (higher first), then by the order jobs were added (their ids)."""
        heapq.heappush(self._waiting, (-job.priority, job.id, job.id))

    # ---- what the loop asks between messages -------------------------------------------------------------

    def stats(self) -> SessionStats:
        """Counts and totals; costs the running jobs, not all of them."""
        counts = self.tallies.per_state
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
            self.tallies.bytes_done,
            sum(self._jobs[i].speed for i in self.tallies.running),
            self._runner.held_back(waiting) if self._running else None,
            self.worker_pids(),
            self.broken,
            self._stages.current_stats(),
            len(self._filing.committing),
        )

    def changes_since(self, seq: int, keep_credentials: bool = True) -> protocol.Changes:
        """What changed after `seq`, for a reader; logins left out for one in another process."""
        return self.changes.since(seq, self._jobs, keep_credentials)

    @property
    def stage_results_waiting(self) -> bool:
        """The stage has results that no front end has taken yet."""
        return self._stages.results_waiting

    def worker_pids(self) -> frozenset[int]:
        """The download workers' processes, and the stages'."""
        return frozenset(self._runner.worker_pids()).union(self._stages.pids())

    def settled(self) -> bool:
        """Nothing queued or running (or nothing running and nothing asked to start)."""
        counts = self.tallies.per_state
        running = counts[JobState.RUNNING]
        if self._stages.busy:
            return False  # downloaded files are still being checked
        return (running == 0 and counts[JobState.QUEUED] == 0) or (
            not self._running and not self._runner.running_job_ids() and running == 0
        )

    @property
    def ended(self) -> bool:
        """A shutdown (or a broken store) has stopped every job, or waited long enough for them."""
        if self._closing_at is None:
            return False
        stopped = not self._runner.running_job_ids() and not self._filing.committing
        return stopped or self._clock() - self._closing_at > STOP_WAIT

    def more_to_start(self) -> bool:
        """Jobs wait and the mode has room: the loop comes straight back rather than waiting."""
        return self._running and bool(self._waiting) and self._runner.capacity() > 0

    def next_deadline(self) -> float | None:
        """The soonest moment (monotonic) at which `step` has something to do without a new message."""
        deadlines = [self._saves.due_at(), self._runner.next_deadline()]
        if self.tallies.running:
            deadlines.append(self._speeds_at + SPEED_EVERY)
        if self._closing_at is not None:
            deadlines.append(self._closing_at + STOP_WAIT)
        return min((d for d in deadlines if d is not None), default=None)

    def step(self) -> None:
        """Start what may start, escalate stops not honoured in time, refresh speeds, save what is due."""
        try:
            if self._running:
                self._dispatch()
            self._runner.tick()
            self._update_speeds()
        except Exception as exc:  # a mode that cannot start a worker, say: stop rather than spin
            log.exception("the engine could not run its workers")
            self._break(f"could not run the downloads: {type(exc).__name__}: {exc}")
        # Saved at once when a worker waits for a name, or when the run settles (a front end waiting for
        # the end then finds the store up to date, error history included).
        waiting, failure = self._saves.write(self._clock(), self._jobs, force=self.settled())
        if failure is not None:
            self._break(failure)
        for action in waiting:
            action()

    def close(self) -> None:
        """End every worker and wait (so long) for the files being committed; a job whose worker or
        commit never answered goes back to the queue, for next time."""
        self._runner.shutdown()
        for answer in self._filing.close(STOP_WAIT):
            self._on_committed(answer)
        for job in self._jobs.values():
            if job.state is JobState.RUNNING:
                self._filing.withdraw(job)
                job.move_to(JobState.QUEUED)
                self._touch(job)
        self._stages.close()
        _, failure = self._saves.write(self._clock(), self._jobs, force=True)
        if failure is not None and self.broken is None:
            self.broken = failure

    def _dispatch(self) -> None:
        """Start queued jobs while the mode has room (worker processes PROCESS_STARTS_PER_STEP at a time)."""
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
                job.started_at = self._wall()
            if job.name is None and job.part_path is None:
                self._offer_names(job)
            offered = job.id in self._filing.offered
            recorded = offered and not self._saves.pending(job.id)  # the offer was saved with an earlier step
            self._touch(job)
            worker_id = self._runner.run(
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
                    offered,
                )
            )
            if recorded:
                self._runner.answer(worker_id, NameGranted(job.id, job.name, job.part_path))
            elif offered:  # saved with this step, while the worker sends its request
                self._grant(worker_id, NameGranted(job.id, job.name, job.part_path))
            capacity -= 1

    def _offer_names(self, job: Job) -> None:
        """Reserve its URL's name for `job`, and for the next OFFERS_AHEAD - 1 queued jobs that have none,
        so that one save records the names of many dispatches to come (not one save per small file)."""
        ahead = (self._jobs.get(job_id) for _, _, job_id in heapq.nsmallest(OFFERS_AHEAD, self._waiting))
        unnamed = (j for j in ahead if j is not None and j.state is JobState.QUEUED and j.name is None
                   and j.part_path is None)
        self._filing.offer(itertools.chain((job,), itertools.islice(unnamed, OFFERS_AHEAD - 1)))

    def _update_speeds(self) -> None:
        """Every SPEED_EVERY seconds, each running job's speed from its meter (a stalled one slows to 0)."""
        now = self._clock()
        if now - self._speeds_at < SPEED_EVERY:
            return
        self._speeds_at = now
        for job_id in list(self.tallies.running):  # counting a job takes it out of the set and back
            job, meter = self._jobs[job_id], self._meters.get(job_id)
            speed = meter.rate(now) if meter is not None else 0.0
            if speed != job.speed:
                job.speed = speed
                self._touch(job, save=False)

    def _break(self, reason: str) -> None:
        """Stop the whole run, for a reason that no single job explains."""
        if self.broken is None:
            self.broken = reason
        self._wind_down()
        self._saves.drop_waiting()

    def _wind_down(self) -> None:
        """Start nothing more and stop what runs; stopped jobs go back to the queue."""
        if self._closing_at is None:
            self._closing_at = self._clock()
        self._running = False
        self._stages.cancel_all()
        for job in self._jobs.values():
            if job.state is JobState.RUNNING:
                self._stopping[job.id] = JobState.QUEUED
                self._runner.stop_job(job.id, StopAction.PAUSE)

    def _touch(self, job: Job, save: bool = True) -> None:
        """Mark a job changed: for its readers, the tallies and (unless only its speed moved) the store.

        Every change to a job's state or bytes is followed by this call.
        """
        self.changes.touched(job.id)
        if save:
            self._saves.job(job.id)
        self.tallies.count(job)

    # ---- worker events -----------------------------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        """Apply one worker event; whatever goes wrong fails only the job it is about."""
        handler = self._HANDLERS.get(type(event))
        if handler is None:
            return
        try:
            handler(self, event)
        except Exception as exc:
            log.exception("the engine could not apply %r", event)
            self._internal_error(event, f"internal error: {type(exc).__name__}: {exc}")

    def _internal_error(self, event: Any, message: str) -> None:
        """Fail the job an event was about; its worker is asked to stop (a late answer is ignored)."""
        job = self._jobs.get(getattr(event, "job_id", -1))
        if isinstance(event, NameRequest):
            self._grant(event.worker_id, NameGranted(event.job_id, None, None))
        if job is None or job.state.finished:
            return
        if job.state is JobState.RUNNING:
            self._runner.stop_job(job.id, StopAction.PAUSE)
        self._stopping.pop(job.id, None)
        self._filing.withdraw(job)
        self._filing.release(job)
        job.move_to(JobState.FAILED)
        job.error, job.speed, job.finished_at = message, 0.0, self._wall()
        self._touch(job)

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
            self._grant(event.worker_id, NameGranted(event.job_id, None, None))
            return
        name, part_path = self._filing.reserve(job, event.wanted)  # the offer declined
        job.name, job.part_path, job.total, job.validator = name, part_path, event.total, event.validator
        job.bytes_done = job.durable_bytes = 0  # a new file: what a Resolved event says of it, it says here
        job.part_sha256 = None
        self._meters[job.id] = RateMeter()
        self._touch(job)
        self._grant(event.worker_id, NameGranted(job.id, name, part_path))

    def _on_resolved(self, event: Resolved) -> None:
        job = self._jobs.get(event.job_id)
        if job is None:
            return
        self._filing.taken(job)
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
        job.next_attempt_at = self._wall() + event.delay
        self._saves.error((job.id, self._wall(), event.attempt, event.error))
        job.speed = 0.0
        self._touch(job)

    def _on_finished(self, event: JobFinished) -> None:
        self._runner.job_finished(event.worker_id)
        job = self._jobs.get(event.job_id)
        if job is None or job.state is not JobState.RUNNING:
            return  # forgotten, or already failed by the engine itself
        job.attempts = event.attempts
        outcome = event.outcome
        if outcome is Outcome.DONE:
            job.bytes_done, job.sha256, job.speed = event.bytes_done, event.sha256, 0.0
            self._meters.pop(job.id, None)
            self._touch(job, save=False)
            self._filing.commit(job)
            return
        if outcome is Outcome.FAILED:
            if event.part_kept:
                job.bytes_done = job.durable_bytes
            else:  # the partial file was removed with the failure
                job.part_path, job.part_sha256 = None, None
                job.bytes_done = job.durable_bytes = 0
        stopped = outcome in (Outcome.PAUSED, Outcome.CANCELLED)  # the engine says where a stopped job goes
        state = self._stopping.get(job.id, outcome.state) if stopped else outcome.state
        self._settle(job, state, event.error)

    def _on_committed(self, answer: Committed) -> None:
        job = self._jobs.get(answer.job_id)
        end = self._filing.committed(job, answer)
        if job is None or end is None:
            return
        if end.path is not None:
            job.path, job.durable_bytes = end.path, job.bytes_done
            job.part_path, job.part_sha256 = None, None
            self._settle(job, JobState.DONE, None)
        else:
            job.bytes_done = job.durable_bytes
            self._settle(job, self._stopping.get(job.id, JobState.FAILED), end.error)

    def _grant(self, worker_id: int, grant: NameGranted) -> None:
        """Answer a worker once the store holds what the answer tells it."""
        self._saves.then(lambda: self._runner.answer(worker_id, grant))

    def _on_worker_exited(self, event: WorkerExited) -> None:
        job_id = self._runner.worker_exited(event.worker_id)
        job = self._jobs.get(job_id) if job_id is not None else None
        if job is not None and job.state is JobState.RUNNING:
            self._settle(job, self._stopping.get(job.id, JobState.FAILED), _died_message(event.exitcode))

    def _settle(self, job: Job, state: JobState, error: str | None) -> None:
        """Apply the end of a worker's turn with a job: it moves to `state`."""
        self._filing.withdraw(job)
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
        if state is JobState.DONE and job.path:
            self._saves.folder(os.path.dirname(job.path))
            self._stages.put((job.id, job.path, job.sha256))
        if job.state.finished:
            job.finished_at = self._wall()
            self._filing.release(job)
        self._touch(job)
        if job.state is JobState.FAILED and error:
            self._saves.error((job.id, self._wall(), job.attempts, error))
        if job.id in self._removing and job.state is not JobState.RUNNING:
            self._removing.discard(job.id)
            self._remove_one(job.id)

    _HANDLERS: ClassVar[dict[type, Callable[[Engine, Any], None]]] = {
        JobStarted: _on_started,
        NameRequest: _on_name_request,
        Resolved: _on_resolved,
        Progress: _on_progress,
        Retrying: _on_retrying,
        JobFinished: _on_finished,
        Committed: _on_committed,
        WorkerExited: _on_worker_exited,
        StageDone: lambda self, event: self._stages.done(event),
        WorkerStarted: lambda self, event: None,
        HelpersReady: lambda self, event: self._runner.bring_up(),
    }
