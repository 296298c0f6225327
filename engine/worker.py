"""What a worker thread or process runs: take a task, fetch it with retries, report events, repeat."""

from __future__ import annotations

import contextlib
import multiprocessing.connection
import os
import random
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import RawArray
from typing import Any

import requests

from engine.errors import TransferError
from engine.events import (
    Event,
    JobFinished,
    JobStarted,
    NameGranted,
    NameRequest,
    Resolved,
    Retrying,
    Task,
    WorkerStarted,
)
from engine.http_client import new_http_session
from engine.jobs import Outcome, StopAction
from engine.partfile import discard
from engine.transfer import FileState, StopCheck, Stopped, fetch

ANSWER_POLL = 1.0  # seconds between looks at the stop flag while waiting for the session's answer (a stop
# request also wakes the wait: see Worker.request_stop)
EXIT_ORPHANED = 3  # a worker process whose app is gone ends with this status, writing nothing more
NICENESS = 5  # how far below its engine a worker process runs: 64 of them starting at once must not keep
# the engine from sampling and reporting
NOTHING = object()  # what a Receive returns when no message came in time
Receive = Callable[[float | None], Any]  # (timeout or None to block) -> a message or NOTHING; EOFError: gone


class StopSignal:
    """A two-number cell in shared memory: which job to stop, and how. Works across threads and processes."""

    def __init__(self) -> None:
        self._cell: Any = RawArray("q", 2)

    def request(self, job_id: int, action: StopAction) -> None:
        self._cell[1] = int(action)
        self._cell[0] = job_id

    def clear(self) -> None:
        self._cell[0] = 0
        self._cell[1] = 0

    def requested(self, job_id: int) -> StopAction | None:
        """The action asked for this job, if any."""
        if self._cell[0] != job_id or not self._cell[1]:
            return None
        return StopAction(self._cell[1])


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, never above the cap; a server's Retry-After wins, up to the cap."""
    if retry_after is not None:
        return min(retry_after, cap)
    high = min(cap, base * 2 ** (attempt - 1))
    return random.uniform(min(base / 2, high), high)


class Mailbox:
    """A worker's incoming messages: tasks (None: finish) and the session's answers, which may arrive
    between them. An answer waited for is picked out; a task that comes meanwhile is kept for later, and
    so is an answer about the current job that comes before it is waited for (an offered name's)."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._held: deque[Task | None] = deque()
        self._answers: dict[int, NameGranted] = {}  # job id -> its answer, not yet waited for

    def hold(self, *messages: Task | None) -> None:
        """Messages to hand out before anything received."""
        self._held.extend(messages)

    def next_task(self) -> Task | None:
        """The next task, or None when the worker should end (told to, or the parent is gone)."""
        self._answers.clear()  # about jobs that are over
        while True:
            if self._held:
                return self._held.popleft()
            try:
                message = self._receive(None)
            except EOFError:
                return None
            if not isinstance(message, NameGranted):  # an answer that came too late is dropped
                return message  # type: ignore[no-any-return]

    def answer(self, job_id: int, stop: StopCheck) -> NameGranted:
        """Wait for the session's answer about this job; a stop asked meanwhile raises Stopped."""
        message: Any = self._answers.pop(job_id, NOTHING)
        while True:
            action = stop()
            if action:
                raise Stopped(action)
            if message is NOTHING:
                try:
                    message = self._receive(ANSWER_POLL)
                except EOFError:
                    raise Stopped(StopAction.PAUSE) from None
            if isinstance(message, NameGranted):
                if message.job_id == job_id and message.name is None:
                    raise Stopped(stop() or StopAction.CANCEL)  # asked to stop, or the job is gone
                if message.job_id == job_id:
                    return message
            elif message is not NOTHING:
                self._held.append(message)
            message = NOTHING

    def wait_out(self, seconds: float, stop: StopCheck) -> StopAction | None:
        """Wait out a backoff delay, returning early with the action if the job is asked to stop (a stop
        request wakes the worker with a message; the app gone counts as a pause)."""
        deadline = time.monotonic() + seconds
        while not (action := stop()) and (left := deadline - time.monotonic()) > 0:
            try:
                message = self._receive(left)
            except EOFError:
                return StopAction.PAUSE
            if isinstance(message, NameGranted):
                self._answers[message.job_id] = message
            elif message is not NOTHING:
                self._held.append(message)
        return action or None


def run_job(
    task: Task,
    worker_id: int,
    http: requests.Session,
    stop: StopSignal,
    emit: Callable[[Event], None],
    mailbox: Mailbox,
) -> JobFinished:
    """Fetch one job, retrying retryable failures with backoff; every outcome comes back as data.

    A permanent failure removes the partial file (nothing would resume it, and on a full disk it would
    fail every later job too); a retryable one that ran out of attempts keeps it, so Retry resumes.
    """
    state = FileState.of(task)
    pid, thread = os.getpid(), threading.current_thread().name
    check: StopCheck = lambda: stop.requested(task.job_id)  # noqa: E731
    offer = task.name if task.offered else None

    def reserve(wanted: str, total: int | None, validator: str | None) -> tuple[str, str]:
        nonlocal offer
        if offer is not None:  # its word comes first, even when the offer is declined: answers stay in order
            offered, offer = offer, None
            granted = mailbox.answer(task.job_id, check)
            if wanted == offered and granted.name and granted.part_path:
                emit(Resolved(task.job_id, granted.name, granted.part_path, total, validator, 0))
                return granted.name, granted.part_path
        emit(NameRequest(task.job_id, worker_id, wanted, total, validator))
        granted = mailbox.answer(task.job_id, check)
        assert granted.name is not None and granted.part_path is not None
        return granted.name, granted.part_path

    attempt = 0
    while True:
        attempt += 1
        emit(JobStarted(task.job_id, worker_id, pid, thread, attempt))
        try:
            done = fetch(task, state, http, check, emit, reserve)
            return JobFinished(task.job_id, worker_id, Outcome.DONE, attempt, done.size, done.sha256)
        except Stopped as stopped:
            return JobFinished(task.job_id, worker_id, Outcome.of_stop(stopped.action), attempt)
        except TransferError as error:
            if not error.retryable:
                discard(state.part_path)
                return JobFinished(task.job_id, worker_id, Outcome.FAILED, attempt, error=error.message,
                                   part_kept=False)
            if attempt >= task.retry.attempts:
                return JobFinished(task.job_id, worker_id, Outcome.FAILED, attempt, bytes_done=state.durable,
                                   error=error.message)
            delay = backoff_delay(attempt, task.retry.base_delay, task.retry.max_delay, error.retry_after)
            emit(Retrying(task.job_id, attempt, delay, error.message))
            action = mailbox.wait_out(delay, check)
            if action:
                return JobFinished(task.job_id, worker_id, Outcome.of_stop(action), attempt)
        except Exception as error:  # a bug must not take the worker down: report it as the job's failure
            return JobFinished(
                task.job_id,
                worker_id,
                Outcome.FAILED,
                attempt,
                error=f"internal error: {type(error).__name__}: {error}",
            )


def serve(worker_id: int, mailbox: Mailbox, emit: Callable[[Event], None], stop: StopSignal) -> None:
    """The worker loop: run tasks until told to finish (None) or the parent goes away."""
    emit(WorkerStarted(worker_id, os.getpid(), threading.current_thread().name))
    with new_http_session() as http:
        while (task := mailbox.next_task()) is not None:
            emit(run_job(task, worker_id, http, stop, emit, mailbox))


def pipe_receiver(conn: Connection) -> Receive:
    """Receive from a worker process's pipe to the app (EOFError once the app's end is closed)."""

    def receive(timeout: float | None) -> Any:
        try:
            if timeout is not None and not conn.poll(timeout):
                return NOTHING
            return conn.recv()
        except OSError as exc:
            raise EOFError from exc

    return receive


def lower_priority(steps: int) -> None:
    """Run this process `steps` nice levels lower (POSIX; elsewhere nothing); the processes it starts
    inherit that."""
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(steps)


def end_with_parent(lifeline: Connection) -> None:
    """End this process the moment the app is gone, however it went (SIGKILL included), before it writes
    another byte. The app holds the only other end of `lifeline` and never writes to it: when the app
    dies the OS closes that end, and the pipe reads as ended."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            multiprocessing.connection.wait([lifeline])
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def process_main(
    worker_id: int, conn: Connection, stop: StopSignal, task: Task | None, lifeline: Connection
) -> None:
    """Entry point of a worker process: one given task (processes mode), or tasks from the pipe (pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    lower_priority(NICENESS)
    end_with_parent(lifeline)
    mailbox = Mailbox(pipe_receiver(conn))
    if task is not None:
        mailbox.hold(task, None)
    try:
        serve(worker_id, mailbox, conn.send, stop)
    except (BrokenPipeError, EOFError, OSError):
        pass  # the parent went away mid-report; nobody is left to tell
    finally:
        conn.close()
