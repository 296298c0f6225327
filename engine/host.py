"""The engine host: a process of its own that owns the session, the store and the monitor, and serves one
front end (the window) over a pipe: commands in, a snapshot of what changed out at most every 100 ms."""

from __future__ import annotations

import contextlib
import logging
import signal
import sqlite3
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from engine import protocol
from engine.events import RetryPolicy
from engine.monitor import MonitorSample, SystemMonitor
from engine.session import Session, SessionStats
from engine.store import JobStore, StoreBusy, StoreError
from engine.worker import lower_priority
from engine.workers import forget_main_module, stop_process_helpers

log = logging.getLogger("parafetch")

SNAPSHOT_EVERY = 0.1  # seconds between snapshots while anything changes
SAMPLE_EVERY = 0.5  # seconds between monitor samples: 2 Hz
EXIT_FOLDER_IN_USE = 3  # as `get` exits when another Parafetch owns its data folder
NICENESS = 5  # how far below the window the engine and its workers run: on two cores 64 starting worker
# processes would otherwise leave the window's thread waiting ~100 ms for a CPU


@dataclass(frozen=True)
class HostConfig:
    """How the front end wants the engine: its mode, pool size, retry policy and queue folder."""

    mode: str
    workers: int | None
    retry: RetryPolicy
    data_dir: str | None  # where the queue is kept; None: in memory, forgotten when the host ends
    front_end_pid: int  # listed by the monitor as the window's own row


def host_main(conn: Connection, config: HostConfig) -> None:
    """Entry point of the engine host process (top level: it is started with `spawn`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the window's to handle
    forget_main_module()
    lower_priority(NICENESS)  # the worker processes start from there
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s engine: %(message)s")
    try:
        store = _open_store(conn, config)
    except StoreBusy as busy:
        conn.send(protocol.Stopped(str(busy), EXIT_FOLDER_IN_USE))
        return
    session = Session(config.mode, config.workers, config.retry, store=store, restore=store is not None)
    try:
        EngineHost(conn, session, SystemMonitor(session.worker_pids, config.front_end_pid)).run()
    finally:
        if store is not None and session.stopped:
            store.close()
        stop_process_helpers()
        conn.close()


def _open_store(conn: Connection, config: HostConfig) -> JobStore | None:
    if config.data_dir is None:
        return None
    try:
        return JobStore(config.data_dir)
    except StoreBusy:
        raise
    except (OSError, sqlite3.Error, StoreError) as exc:
        message = f"The queue will not be kept: cannot open the job store in {config.data_dir}: {exc}"
        conn.send(protocol.Note("error", message))
        return None


class EngineHost:
    """The host's loop: waits for a command or the next snapshot's time, whichever comes first."""

    def __init__(self, conn: Connection, session: Session, monitor: SystemMonitor) -> None:
        self._conn = conn
        self._session = session
        self._monitor = monitor
        self._seq = 0
        self._sent: SessionStats | None = None
        self._sample: MonitorSample | None = None
        self._ended: protocol.Stopped | None = None

    def run(self) -> None:
        now = time.monotonic()
        next_snapshot = next_sample = now
        while self._ended is None:
            wait = max(0.0, min(next_snapshot, next_sample) - time.monotonic())
            try:
                if self._conn.poll(wait):
                    self._apply(self._conn.recv())
                    next_snapshot = min(next_snapshot, time.monotonic() + 0.01)  # show its effect soon
            except (EOFError, OSError):  # the window is gone: save everything and end
                self._shut_down(protocol.Shutdown(), tell=False)
                return
            now = time.monotonic()
            if now >= next_sample:
                self._sample = self._take_sample()
                next_sample = now + SAMPLE_EVERY
            if now >= next_snapshot:
                self._publish()
                next_snapshot = now + SNAPSHOT_EVERY
        self._send(self._ended)

    def _take_sample(self) -> MonitorSample | None:
        try:
            return self._monitor.sample()
        except Exception:  # a sampling glitch must not end the engine
            log.exception("monitor sample failed")
            return None

    def _publish(self) -> None:
        """Send what changed since the last snapshot; nothing when nothing did."""
        changes, stats = self._session.changes(), self._session.stats()
        if not changes.jobs and not changes.removed and stats == self._sent and self._sample is None:
            return
        for job in changes.jobs:  # copies: the front end never sees a password
            job.credentials = None
        self._seq += 1
        jobs, removed = tuple(changes.jobs), tuple(changes.removed)
        self._send(protocol.Snapshot(self._seq, jobs, removed, stats, self._sample))
        self._sent, self._sample = stats, None

    def _send(self, message: protocol.Notice) -> None:
        with contextlib.suppress(OSError):  # the window is gone; the next read ends the loop
            self._conn.send(message)

    def _apply(self, command: protocol.Command) -> None:
        """Carry out one command; one that fails is refused with the reason, and the engine goes on."""
        session = self._session
        try:
            match command:
                case protocol.Add(entries, dest_dir, priority):
                    session.add(entries, dest_dir, priority)
                case protocol.Start():
                    session.start()
                case protocol.Pause(job_id):
                    session.pause(job_id)
                case protocol.Resume(job_id):
                    session.resume(job_id)
                case protocol.Cancel(job_id):
                    session.cancel(job_id)
                case protocol.RetryFailed(job_id):
                    session.retry_failed(job_id)
                case protocol.MarkResolved(job_id):
                    session.mark_resolved(job_id)
                case protocol.Remove(job_id):
                    session.remove(job_id)
                case protocol.ClearFinished():
                    session.clear_finished()
                case protocol.SetPriority(job_id, priority):
                    session.set_priority(job_id, priority)
                case protocol.SetMode(mode, workers):
                    session.set_mode(mode, workers)
                case protocol.SetWorkers(workers):
                    session.set_workers(workers)
                case protocol.AskHistory(job_id):
                    self._send(protocol.History(job_id, tuple(session.error_history(job_id))))
                case protocol.Shutdown():
                    self._shut_down(command, tell=True)
                case _:
                    raise TypeError(f"not a command: {command!r}")
        except ValueError as exc:
            self._send(protocol.Refused(str(exc)))
        except Exception as exc:
            log.exception("the engine could not carry out %r", command)
            self._send(protocol.Refused(f"internal error: {type(exc).__name__}: {exc}"))

    def _shut_down(self, command: protocol.Shutdown, tell: bool) -> None:
        self._session.shutdown(command.timeout)
        if tell:
            self._publish()  # the jobs as they were left
        self._ended = protocol.Stopped()
