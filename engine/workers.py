"""Parent-side handles of worker threads and worker processes, and the pump that relays process events."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import queue
import sys
import threading
import time
import types
from abc import ABC, abstractmethod
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

from engine.events import Event, NameGranted, Task, WorkerExited
from engine.jobs import StopAction
from engine.worker import NOTHING, Mailbox, StopSignal, process_main, serve

EventQueue = queue.SimpleQueue[Any]


_lifeline: tuple[Connection, Connection] | None = None
_lifeline_lock = threading.Lock()


def lifeline() -> Connection:
    """The read end of this process's lifeline, for worker processes to watch (engine.worker's
    end_with_parent). The write end stays here, unused, for the life of the process: when the process
    ends, however it ends, the OS closes it and every worker sees that at once."""
    global _lifeline
    with _lifeline_lock:
        if _lifeline is None:
            _lifeline = multiprocessing.Pipe(duplex=False)
        return _lifeline[0]


def process_context() -> BaseContext:
    """forkserver on Linux (fast, and never forks a threaded parent), spawn elsewhere."""
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["engine.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


class Worker(ABC):
    """One worker as the parent sees it: what it runs, how to stop it, whether it lives."""

    def __init__(self, worker_id: int, events: EventQueue) -> None:
        self.worker_id = worker_id
        self.events = events
        self.stop_signal = StopSignal()
        self.job_id: int | None = None
        self.retiring = False
        self.stop_deadline: float | None = None
        self.terminated_at: float | None = None

    def assign(self, task: Task) -> None:
        """Give an idle persistent worker its next task."""
        self.stop_signal.clear()
        self.job_id = task.job_id
        self._send(task)

    def retire(self) -> None:
        """Let the worker finish what it runs, then end."""
        if not self.retiring:
            self.retiring = True
            self._send(None)

    def request_stop(self, job_id: int, action: StopAction) -> None:
        """Set the stop flag the transfer looks at, and wake the worker if it waits for an answer (a
        worker that does not wait drops the message with the next task)."""
        self.stop_signal.request(job_id, action)
        self._send(NameGranted(job_id, None, None))

    def answer(self, message: NameGranted) -> None:
        """Give the worker the session's answer to a request it waits on."""
        self._send(message)

    @abstractmethod
    def start(self, task: Task | None) -> None:
        """Start the worker: with a task it runs just that one (one-shot), else it waits for tasks."""

    @abstractmethod
    def _send(self, message: Task | NameGranted | None) -> None: ...

    @property
    @abstractmethod
    def alive(self) -> bool: ...

    @property
    @abstractmethod
    def pid(self) -> int: ...

    @abstractmethod
    def join(self, timeout: float) -> None: ...

    def terminate(self) -> None:  # noqa: B027  (a thread cannot be forced; processes override)
        """Ask the OS to end the worker (only processes can be forced; a thread must stop itself)."""

    def kill(self) -> None:  # noqa: B027
        """End the worker without asking (only processes)."""


class ThreadWorker(Worker):
    """A daemon thread in this process running the worker loop."""

    def __init__(self, worker_id: int, events: EventQueue) -> None:
        super().__init__(worker_id, events)
        self._inbox: queue.SimpleQueue[Task | NameGranted | None] = queue.SimpleQueue()
        self._mailbox = Mailbox(self._receive)
        self._thread = threading.Thread(target=self._run, name=f"worker-{worker_id}", daemon=True)

    def start(self, task: Task | None) -> None:
        if task is not None:
            self.job_id = task.job_id
            self._mailbox.hold(task, None)
            self.retiring = True
        self._thread.start()

    def _receive(self, timeout: float | None) -> object:
        try:
            return self._inbox.get(timeout=timeout)
        except queue.Empty:
            return NOTHING

    def _run(self) -> None:
        try:
            serve(self.worker_id, self._mailbox, self._emit, self.stop_signal)
        finally:
            self.events.put(WorkerExited(self.worker_id, os.getpid(), None))

    def _emit(self, event: Event) -> None:
        self.events.put(event)

    def _send(self, message: Task | NameGranted | None) -> None:
        self._inbox.put(message)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def pid(self) -> int:
        return os.getpid()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class ProcessWorker(Worker):
    """A child process running the worker loop over its own pipe (a killed child breaks only its own)."""

    def __init__(self, worker_id: int, events: EventQueue, ctx: BaseContext, pump: ProcessPump) -> None:
        super().__init__(worker_id, events)
        self._ctx = ctx
        self._pump = pump
        self.conn: Connection | None = None
        self.process: Any = None

    def start(self, task: Task | None) -> None:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        if task is not None:
            self.job_id = task.job_id
            self.retiring = True
        self.process = self._ctx.Process(  # type: ignore[attr-defined]
            target=process_main,
            args=(self.worker_id, child_end, self.stop_signal, task, lifeline()),
            name=f"parafetch-worker-{self.worker_id}",
            daemon=True,
        )
        self.process.start()
        child_end.close()
        self.conn = parent_end
        self._pump.watch(self)

    def _send(self, message: Task | NameGranted | None) -> None:
        if self.conn is None:
            return
        with contextlib.suppress(OSError):  # the process is gone; the pump reports its exit
            self.conn.send(message)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    @property
    def pid(self) -> int:
        return int(self.process.pid or 0) if self.process is not None else 0

    def join(self, timeout: float) -> None:
        if self.process is not None:
            self.process.join(timeout)

    def terminate(self) -> None:
        if self.alive:
            self.terminated_at = time.monotonic()
            self.process.terminate()

    def kill(self) -> None:
        if self.alive:
            self.process.kill()


class ProcessPump(threading.Thread):
    """Relays what worker processes send into the session's queue, and reports each one's exit."""

    def __init__(self, events: EventQueue) -> None:
        super().__init__(name="process-pump", daemon=True)
        self._events = events
        self._lock = threading.Lock()
        self._watched: dict[int, ProcessWorker] = {}
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._closing = False

    def watch(self, worker: ProcessWorker) -> None:
        with self._lock:
            self._watched[worker.worker_id] = worker
        self._wake()

    def close(self, timeout: float = 2.0) -> None:
        self._closing = True
        self._wake()
        if self.is_alive():
            self.join(timeout)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send_bytes(b"!")

    def run(self) -> None:
        while True:
            with self._lock:
                workers = list(self._watched.values())
            if self._closing and not workers:
                return
            waitables: list[Any] = [self._wake_r]
            for worker in workers:
                waitables += [worker.conn, worker.process.sentinel]
            ready = set(multiprocessing.connection.wait(waitables, timeout=1.0))
            if self._wake_r in ready:
                while self._wake_r.poll():
                    self._wake_r.recv_bytes()
            for worker in workers:
                if worker.conn in ready:
                    self._drain(worker)
                if worker.process.sentinel in ready:
                    self._drain(worker)
                    self._finish(worker)

    def _drain(self, worker: ProcessWorker) -> None:
        conn = worker.conn
        assert conn is not None
        try:
            while conn.poll():
                message: Event = conn.recv()
                self._events.put(message)
        except (EOFError, OSError):
            pass

    def _finish(self, worker: ProcessWorker) -> None:
        worker.process.join(1.0)
        with self._lock:
            self._watched.pop(worker.worker_id, None)
        if worker.conn is not None:
            worker.conn.close()
        self._events.put(WorkerExited(worker.worker_id, worker.pid, worker.process.exitcode))


def forget_main_module() -> None:
    """In a process spawned to run the engine (or a comparison): the worker processes it starts then import
    only what they run, not the front end's main module (main.py, or a test runner's), which every one of
    them would otherwise import again (spawn and forkserver children re-import `__main__` by its path)."""
    sys.modules["__main__"] = types.ModuleType("__main__")


def _nothing() -> None:
    """What the warm-up process runs."""


def start_process_helpers() -> None:
    """Start multiprocessing's forkserver (Linux) now and wait until it has loaded the worker's modules,
    so that the first worker process does not wait seconds for it while its session holds its lock."""
    if sys.platform.startswith("linux"):
        warm_up = process_context().Process(target=_nothing, name="parafetch-warm-up")  # type: ignore[attr-defined]
        warm_up.start()  # returns once the forkserver, its preload done, has forked it
        warm_up.join(30.0)


def stop_process_helpers() -> None:
    """End multiprocessing's forkserver and resource tracker, so a finished app leaves no child behind."""
    from multiprocessing import forkserver, resource_tracker

    for helper, pid_field in (
        (getattr(forkserver, "_forkserver", None), "_forkserver_pid"),
        (getattr(resource_tracker, "_resource_tracker", None), "_pid"),
    ):
        stop = getattr(helper, "_stop", None)
        if stop is not None and getattr(helper, pid_field, None) is not None:  # started here, not inherited
            with contextlib.suppress(OSError, ChildProcessError):
                stop()
