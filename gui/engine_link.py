"""The window's end of the pipe to the engine host: starts the host, sends it commands, and reads what it
sends on the UI thread, only when there is something to read."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine import protocol
from engine.events import RetryPolicy
from engine.host import HostConfig, host_main
from engine.protocol import SessionStats
from engine.sources import UrlEntry
from engine.stage import StageConfig
from gui.pipe_reader import KILL_AFTER, PipeReader, join_or_kill


class EngineLink(QObject):
    """One engine host process and the pipe to it. Snapshots that queue up while the UI thread is busy are
    merged, so the window applies one per read however many came."""

    snapshot = Signal(object)  # protocol.Snapshot
    history = Signal(object)  # protocol.History
    logins = Signal(object)  # protocol.Logins
    refused = Signal(str)
    note = Signal(str, str)  # level, message
    stopped = Signal(object)  # protocol.Stopped: the host ended as asked, or refused to start
    died = Signal(str)  # the host ended without being asked: why, in words

    def __init__(self, config: HostConfig, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.config = config
        self.process: Any = None
        self._pipe: PipeReader | None = None
        self._stopping = False
        self.stats: SessionStats | None = None  # as the last snapshot said
        self.ended = False
        self.sent = 0  # commands sent to this host (a snapshot's `carried_out` counts the same ones)

    # ---- life ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the host (spawned: a fresh interpreter, as on Windows and macOS, never a fork of the
        window's threads)."""
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=host_main, args=(theirs, self.config), name="parafetch-engine")
        self.process.start()
        theirs.close()
        self._stopping, self.ended, self.sent = False, False, 0
        self._pipe = PipeReader(ours, self._received, self._ended_without_word, self)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def send(self, command: protocol.Command) -> None:
        """Send a command; one sent to a host that is gone is dropped (the window already says so)."""
        if self._pipe is None or self.ended:
            return
        if self._pipe.send(command):
            self.sent += 1
        else:
            self._pipe.read()  # notice the end now

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the host to save everything and end; `stopped` is emitted when it has."""
        self._stopping = True
        self.send(protocol.Shutdown(timeout))

    def wait(self, timeout: float) -> bool:
        """Block until the host process has ended (at exit, when the event loop no longer runs); a host that
        does not end in time is killed. True when it ended by itself."""
        if self.process is None:
            return True
        ended = join_or_kill(self.process, timeout)
        self.ended = True
        self._close()
        return ended

    # ---- commands, named as the session's methods ---------------------------------------------------------

    @property
    def mode(self) -> str:
        """The engine's mode, as its last snapshot said (or as asked, before the first)."""
        return self.stats.mode if self.stats is not None else self.config.mode

    @property
    def retry(self) -> RetryPolicy:
        return self.config.retry

    def add(self, entries: Iterable[UrlEntry], dest_dir: str, priority: int = 0) -> None:
        self.send(protocol.Add(tuple(entries), dest_dir, priority))

    def start_jobs(self) -> None:
        self.send(protocol.Start())

    def pause(self, job_id: int | None = None) -> None:
        self.send(protocol.Pause(job_id))

    def resume(self, job_id: int | None = None) -> None:
        self.send(protocol.Resume(job_id))

    def cancel(self, job_id: int | None = None) -> None:
        self.send(protocol.Cancel(job_id))

    def retry_failed(self, job_id: int | None = None) -> None:
        self.send(protocol.RetryFailed(job_id))

    def mark_resolved(self, job_id: int | None = None) -> None:
        self.send(protocol.MarkResolved(job_id))

    def remove(self, job_id: int) -> None:
        self.send(protocol.Remove(job_id))

    def clear_finished(self) -> None:
        self.send(protocol.ClearFinished())

    def set_priority(self, job_id: int, priority: int) -> None:
        self.send(protocol.SetPriority(job_id, priority))

    def set_workers(self, workers: int) -> None:
        self.config = dataclasses.replace(self.config, workers=workers)  # a restarted host starts so
        self.send(protocol.SetWorkers(workers))

    def set_mode(self, mode: str, workers: int | None = None) -> None:
        """Switch mode; raises ValueError when the last snapshot shows downloads running (the engine
        refuses too, should one start meanwhile)."""
        if self.stats is not None and self.stats.running:
            raise ValueError("the mode cannot change while downloads run")
        self.config = dataclasses.replace(self.config, mode=mode, workers=workers or self.config.workers)
        self.send(protocol.SetMode(mode, workers))

    def set_stage(self, stage: StageConfig | None) -> None:
        """Put the files downloaded from now on through a stage (the pipeline), or through none."""
        self.config = dataclasses.replace(self.config, stage=stage)
        self.send(protocol.SetStage(stage))

    def ask_history(self, job_id: int) -> None:
        """Ask for a job's failed attempts; they come back as `history`."""
        self.send(protocol.AskHistory(job_id))

    def ask_logins(self) -> None:
        """Ask for the jobs' logins (snapshots leave them out); they come back as `logins`."""
        self.send(protocol.AskLogins())

    # ---- reading -------------------------------------------------------------------------------------------

    def _received(self, messages: list[object]) -> None:
        """What the host sent since the last read: the snapshots merged into one, then the rest in order."""
        merged: protocol.Snapshot | None = None
        for message in messages:
            if isinstance(message, protocol.Snapshot):
                merged = message if merged is None else _merge(merged, message)
        if merged is not None:
            self.stats = merged.stats
            self.snapshot.emit(merged)
        for message in messages:
            if not isinstance(message, protocol.Snapshot):
                self._dispatch(message)

    def _dispatch(self, message: object) -> None:
        if isinstance(message, protocol.History):
            self.history.emit(message)
        elif isinstance(message, protocol.Logins):
            self.logins.emit(message)
        elif isinstance(message, protocol.Refused):
            self.refused.emit(message.message)
        elif isinstance(message, protocol.Note):
            self.note.emit(message.level, message.message)
        elif isinstance(message, protocol.Stopped):
            self.ended = True
            self.wait(KILL_AFTER)
            self.stopped.emit(message)

    def _ended_without_word(self) -> None:
        if self.ended:
            return
        self.ended = True
        code = None
        if self.process is not None:
            self.process.join(1.0)
            code = self.process.exitcode
        self._close()
        if self._stopping:
            self.stopped.emit(protocol.Stopped())
            return
        how = f"was killed (signal {-code})" if code is not None and code < 0 else f"ended (exit code {code})"
        self.died.emit(f"The download engine {how}")

    def _close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe.deleteLater()
            self._pipe = None


def _merge(older: protocol.Snapshot, newer: protocol.Snapshot) -> protocol.Snapshot:
    """Two snapshots as one: the newer copy of a job wins, and a job removed in between stays removed."""
    jobs = {job.id: job for job in older.jobs}
    for job_id in newer.removed:
        jobs.pop(job_id, None)
    jobs.update((job.id, job) for job in newer.jobs)
    removed = tuple(i for i in older.removed if i not in jobs) + newer.removed
    sample = newer.sample or older.sample
    return protocol.Snapshot(newer.seq, tuple(jobs.values()), removed, newer.stats, sample, newer.carried_out,
                             older.stage_results + newer.stage_results)
