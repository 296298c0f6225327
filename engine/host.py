"""The engine host: a process of its own that owns the session, the store and the monitor, and serves one
front end (the window) over a pipe: commands in, a snapshot of what changed out at most every 100 ms."""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from engine import protocol
from engine.core import Engine
from engine.events import RetryPolicy
from engine.loop import EngineLoop, Request
from engine.monitor import MonitorSample, SystemMonitor
from engine.protocol import SessionStats
from engine.stage import StageConfig
from engine.store import JobStore, StoreBusy, StoreError
from engine.worker import lower_priority
from engine.workers import forget_main_module, stop_process_helpers

log = logging.getLogger("parafetch")

SNAPSHOT_EVERY = 0.1  # seconds between snapshots while anything changes
SAMPLE_EVERY = 0.5  # seconds between monitor samples: 2 Hz
COMMAND_ECHO = 0.01  # seconds after a command by which the snapshot that shows its effect goes up
EXIT_FOLDER_IN_USE = 3  # as `get` exits when another Parafetch owns its data folder
NICENESS = 5  # how far below the window the engine and its workers run: on two cores 64 starting worker
# processes would otherwise leave the window's thread waiting ~100 ms for a CPU


@dataclass(frozen=True)
class HostConfig:
    """How the front end wants the engine: its mode, pool size, retry policy, queue folder and stage."""

    mode: str
    workers: int | None
    retry: RetryPolicy
    data_dir: str | None  # where the queue is kept; None: in memory, forgotten when the host ends
    front_end_pid: int  # listed by the monitor as the window's own row
    stage: StageConfig | None = None  # the pipeline's stage, when it is picked


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
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    try:
        engine = Engine(inbox, config.mode, config.workers, config.retry, store, restore=store is not None,
                        stage=config.stage)
        EngineHost(conn, engine, inbox, SystemMonitor(engine.worker_pids, config.front_end_pid)).run()
    finally:
        if store is not None:
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


class _UpThePipe:
    """The Reply for a command from the window: answers that are notices go up, failures as Refused."""

    def __init__(self, host: EngineHost) -> None:
        self._host = host

    def resolve(self, value: object) -> None:
        if isinstance(value, (protocol.History, protocol.Logins)):
            self._host.send(value)

    def fail(self, error: Exception) -> None:
        if isinstance(error, ValueError):
            message = str(error)
        else:
            message = f"internal error: {type(error).__name__}: {error}"
        self._host.send(protocol.Refused(message))


class EngineHost:
    """Serves one window: its commands go into the engine loop (which runs on this process's main thread),
    and after each turn a snapshot of what changed goes up, at most every SNAPSHOT_EVERY seconds."""

    def __init__(
        self, conn: Connection, engine: Engine, inbox: queue.SimpleQueue[Any], monitor: SystemMonitor
    ) -> None:
        self._conn = conn
        self._engine = engine
        self._loop = EngineLoop(engine, inbox, self._turned)
        self._monitor = monitor
        self._reply = _UpThePipe(self)
        self._told = True  # the window asked for the end, and hears of it; not when it went away
        self._seq = 0  # the engine's change number that the last snapshot went up to
        self._carried_out = 0  # the window's commands the engine has carried out
        self._sent_stats: SessionStats | None = None
        self._sent_carried_out = 0
        self._sample: MonitorSample | None = None
        self._next_snapshot = self._next_sample = time.monotonic()

    def run(self) -> None:
        threading.Thread(target=self._read_commands, name="engine-pipe", daemon=True).start()
        self._loop.run()
        if self._told:
            self._publish()  # the jobs as they were left
            broken = self._engine.broken
            self.send(protocol.Stopped(broken) if broken else protocol.Stopped())

    def _read_commands(self) -> None:
        """On a thread of its own: each command from the window into the loop's inbox, as it comes."""
        while True:
            try:
                command = self._conn.recv()
            except (EOFError, OSError):  # the window is gone: save everything and end
                self._told = False
                self._loop.submit(Request(protocol.Shutdown()))
                return
            if not self._loop.submit(Request(command, self._reply)):
                return

    def _turned(self, now: float, commands: int) -> float:
        """After each turn: the monitor at 2 Hz, a snapshot when one is due; returns the next such time."""
        if commands:  # show their effect soon
            self._carried_out += commands
            self._next_snapshot = min(self._next_snapshot, now + COMMAND_ECHO)
        if now >= self._next_sample:
            self._sample = self._take_sample()
            self._next_sample = now + SAMPLE_EVERY
        if now >= self._next_snapshot and self._publish():
            self._next_snapshot = now + SNAPSHOT_EVERY
        pending = (self._sample is not None or self._engine.changes.seq != self._seq
                   or self._carried_out != self._sent_carried_out or self._engine.stage_results_waiting)
        return min(self._next_sample, max(self._next_snapshot, now)) if pending else self._next_sample

    def _take_sample(self) -> MonitorSample | None:
        try:
            return self._monitor.sample()
        except Exception:  # a sampling glitch must not end the engine
            log.exception("monitor sample failed")
            return None

    def _publish(self) -> bool:
        """Send what changed since the last snapshot; nothing (False) when nothing did."""
        changes = self._engine.changes_since(self._seq, keep_credentials=False)  # no password leaves
        stats = self._engine.stats()
        if (not changes.jobs and not changes.removed and stats == self._sent_stats and self._sample is None
                and self._carried_out == self._sent_carried_out and not self._engine.stage_results_waiting):
            return False
        results = self._engine.apply(protocol.TakeStageResults())
        assert isinstance(results, list)
        self._seq = changes.seq
        self.send(protocol.Snapshot(changes.seq, tuple(changes.jobs), tuple(changes.removed), stats,
                                    self._sample, self._carried_out, tuple(results)))
        self._sent_stats, self._sample, self._sent_carried_out = stats, None, self._carried_out
        return True

    def send(self, message: protocol.Notice) -> None:
        with contextlib.suppress(OSError):  # the window is gone; its pipe reader ends the loop
            self._conn.send(message)
