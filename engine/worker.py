"""What a worker thread or process runs: take a task, fetch it with retries, report events, repeat."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import RawArray
from typing import Any

import requests

from engine.errors import TransferError
from engine.events import Event, JobFinished, JobStarted, Retrying, Task, WorkerStarted
from engine.transfer import FileState, Stopped, fetch, new_http_session

ACTIONS = {1: "pause", 2: "cancel"}
ACTION_CODES = {name: code for code, name in ACTIONS.items()}
NICENESS = 5  # how far below the app's CPU priority a worker runs: the window or the terminal comes first


class StopSignal:
    """A two-number cell in shared memory: which job to stop, and how. Works across threads and processes."""

    def __init__(self) -> None:
        self._cell: Any = RawArray("q", 2)

    def request(self, job_id: int, action: str) -> None:
        self._cell[1] = ACTION_CODES[action]
        self._cell[0] = job_id

    def clear(self) -> None:
        self._cell[0] = 0
        self._cell[1] = 0

    def requested(self, job_id: int) -> str | None:
        """The action asked for this job, if any."""
        if self._cell[0] != job_id:
            return None
        return ACTIONS.get(self._cell[1])


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a server's Retry-After wins, up to the cap."""
    if retry_after is not None:
        return min(retry_after, cap)
    return random.uniform(base / 2, min(cap, base * 2 ** (attempt - 1)))


def wait_or_stop(seconds: float, check: Callable[[], str | None]) -> str | None:
    """Wait out a backoff delay, returning early with the action if the job is asked to stop."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        action = check()
        if action:
            return action
        time.sleep(min(left, 0.05))  # polls a shared-memory flag; a process cannot wait on it
    return check()


def run_job(
    task: Task, worker_id: int, http: requests.Session, stop: StopSignal, emit: Callable[[Event], None]
) -> JobFinished:
    """Fetch one job, retrying retryable failures with backoff; every outcome comes back as data."""
    state = FileState.of(task)
    pid, thread = os.getpid(), threading.current_thread().name
    check: Callable[[], str | None] = lambda: stop.requested(task.job_id)  # noqa: E731
    attempt = 0
    while True:
        attempt += 1
        emit(JobStarted(task.job_id, worker_id, pid, thread, attempt))
        try:
            done = fetch(task, state, http, check, emit)
            return JobFinished(task.job_id, worker_id, "done", attempt, done.path, done.size, done.sha256)
        except Stopped as stopped:
            return JobFinished(task.job_id, worker_id, stopped.action, attempt)
        except TransferError as error:
            if not error.retryable or attempt >= task.retry.attempts:
                return JobFinished(task.job_id, worker_id, "failed", attempt, error=error.message)
            delay = backoff_delay(attempt, task.retry.base_delay, task.retry.max_delay, error.retry_after)
            emit(Retrying(task.job_id, attempt, delay, error.message))
            action = wait_or_stop(delay, check)
            if action:
                return JobFinished(task.job_id, worker_id, action, attempt)
        except Exception as error:  # a bug must not take the worker down: report it as the job's failure
            return JobFinished(
                task.job_id,
                worker_id,
                "failed",
                attempt,
                error=f"internal error: {type(error).__name__}: {error}",
            )


def lower_priority() -> None:
    """Run the calling worker thread at a lower CPU priority than the app (Linux, where it is per thread).

    On two cores, 8 to 64 download threads are runnable as often as the window's thread is; at equal
    priority it waits in the run queue behind them, and a 5 ms timer fires 20-40 ms late.
    """
    if not sys.platform.startswith("linux"):
        return  # elsewhere the priority belongs to the whole process, the window's thread included
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + NICENESS)


def serve(
    worker_id: int, receive: Callable[[], Task | None], emit: Callable[[Event], None], stop: StopSignal
) -> None:
    """The worker loop: run tasks until told to finish (None) or the parent goes away."""
    lower_priority()
    emit(WorkerStarted(worker_id, os.getpid(), threading.current_thread().name))
    with new_http_session() as http:
        while (task := receive()) is not None:
            emit(run_job(task, worker_id, http, stop, emit))


def process_main(worker_id: int, conn: Connection, stop: StopSignal, task: Task | None) -> None:
    """Entry point of a worker process: one given task (processes mode), or tasks from the pipe (pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    pending = [task] if task is not None else []

    def receive() -> Task | None:
        if task is not None:
            return pending.pop() if pending else None
        try:
            received: Task | None = conn.recv()
            return received
        except (EOFError, OSError):
            return None  # the parent is gone

    try:
        serve(worker_id, receive, conn.send, stop)
    except (BrokenPipeError, EOFError, OSError):
        pass  # the parent went away mid-report; nobody is left to tell
    finally:
        conn.close()
