"""The bridge between the engine host and the window: each snapshot the link reads goes into the model at
once, with one dataChanged, and the totals and monitor sample it carries go to the panels."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from engine import protocol
from engine.monitor import MonitorSample
from engine.protocol import Changes, SessionStats
from gui.engine_link import EngineLink
from gui.jobs_model import JobsTableModel

CLOSE_SLACK = 30.0  # seconds `close` waits beyond the engine's own timeout (it saves the queue first)


class RunClock:
    """The run's elapsed time: runs while jobs run, holds while paused, restarts with a new batch."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._total = 0.0
        self._since: float | None = None

    def update(self, active: bool, paused: bool) -> None:
        now = self._clock()
        if active and self._since is None:
            if not paused:
                self._total = 0.0
            self._since = now
        elif not active and self._since is not None:
            self._total += now - self._since
            self._since = None

    def elapsed(self) -> float:
        return self._total + (self._clock() - self._since if self._since is not None else 0.0)


def no_stats(mode: str, workers: int | None) -> SessionStats:
    """The totals shown before the engine's first snapshot: nothing yet."""
    return SessionStats(mode, workers or 1, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, None, frozenset())


class SessionBridge(QObject):
    """Feeds the model and the panels from the engine's snapshots; starts, restarts and stops the engine."""

    stats_changed = Signal(object)  # SessionStats
    sample_ready = Signal(object)  # MonitorSample
    jobs_finished = Signal(list)  # list[Job] that finished since the last snapshot
    stage_results = Signal(list)  # list[StageResult]: files the pipeline's stage processed since the last
    engine_died = Signal(str)  # the engine ended without being asked: why, in words
    shutdown_finished = Signal()

    def __init__(self, engine: EngineLink, model: JobsTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.model = model
        self.clock = RunClock()
        self.stats: SessionStats = no_stats(engine.config.mode, engine.config.workers)
        self.started = False
        self.ticks = 0  # snapshots shown
        self.sample_listeners: list[Callable[[MonitorSample, SessionStats], None]] = []
        self._sample: MonitorSample | None = None
        self._shutting_down = False
        self._finished = False
        self._run_pending = False  # Start was pressed and no snapshot has shown the run yet
        self._start_sent = 0  # the number of that Start among the commands sent to the engine
        engine.snapshot.connect(self._show)
        engine.stopped.connect(self._engine_stopped)
        engine.died.connect(self._engine_died)

    def start(self) -> None:
        """Start the engine host; its first snapshot brings the stored queue."""
        self.engine.start()

    def restart(self) -> None:
        """A new engine host after the last one died: the rows come back from the store as it has them."""
        if not self.engine.ended:
            return
        self.model.apply(Changes([], [job.id for job in self.model.jobs()]))
        self.engine.start()
        if self.started:
            self.start_session()

    @property
    def is_active(self) -> bool:
        """True while any job runs or waits to run."""
        return self._run_pending or self.stats.running > 0 or (self.started and self.stats.queued > 0)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    @property
    def sample(self) -> MonitorSample | None:
        return self._sample

    def start_session(self) -> None:
        self.started = self._run_pending = True
        self.engine.start_jobs()
        self._start_sent = self.engine.sent

    @Slot(object)
    def _show(self, snapshot: protocol.Snapshot) -> None:
        self.ticks += 1
        finished = self.model.apply(Changes(list(snapshot.jobs), list(snapshot.removed)))
        stats = self.stats = snapshot.stats
        self.clock.update(self.is_active, stats.paused > 0)
        if snapshot.stage_results:
            self.stage_results.emit(list(snapshot.stage_results))
        if snapshot.sample is not None:
            self._sample = snapshot.sample
            for listener in self.sample_listeners:
                listener(snapshot.sample, stats)
        self.stats_changed.emit(stats)
        if self._run_pending and snapshot.carried_out >= self._start_sent:
            # the first picture after Start: a run short enough to end between two snapshots began and ended
            self._run_pending = False
            if not self.is_active:
                self.stats_changed.emit(stats)
        if snapshot.sample is not None:
            self.sample_ready.emit(snapshot.sample)
        if finished:
            self.jobs_finished.emit(finished)

    def shutdown_async(self, timeout: float = 5.0) -> None:
        """Ask the engine to stop every worker and save the queue; `shutdown_finished` follows when it has
        (at once when the engine has already ended)."""
        if self._shutting_down:
            return
        self._shutting_down = True
        if self.engine.ended:
            self._finish()
            return
        self.engine.stop(timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Stop the engine and wait for it here (the app quits without closing the window, and the event
        loop no longer runs)."""
        self._shutting_down = True
        if not self.engine.ended:
            self.engine.stop(timeout)
            self.engine.wait(timeout + CLOSE_SLACK)
        self._finish()

    @Slot(object)
    def _engine_stopped(self, stopped: protocol.Stopped) -> None:
        if stopped.reason and not self._shutting_down:
            self.engine_died.emit(stopped.reason)  # it would not start (another Parafetch owns the folder)
            return
        self._finish()

    @Slot(str)
    def _engine_died(self, why: str) -> None:
        if self._shutting_down:
            self._finish()
            return
        self.engine_died.emit(why)

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self.shutdown_finished.emit()
