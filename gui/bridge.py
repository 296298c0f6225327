"""The bridge between engine and window: one timer shows what a poller thread reads from the session."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from engine.courtesy import COURTESY
from engine.monitor import MonitorSample
from engine.session import Changes, Session, SessionStats
from gui.heartbeat import Heartbeat
from gui.jobs_model import JobsTableModel
from gui.monitor_sampler import MonitorSampler

log = logging.getLogger("parafetch")

FAST_MS = 100  # 10 Hz while anything runs
IDLE_MS = 1000  # 1 Hz when nothing runs
SWITCH_INTERVAL = 0.0005  # seconds a busy thread keeps the GIL from the UI thread (Python's default: 0.005)
THREAD_JOIN = 2.0  # seconds to wait for the poller or the sampler to end
CLOSE_SLACK = 30.0  # seconds `close` waits beyond the session's timeout (threads, stage, comparison)


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


class SessionPoller:
    """Reads `changes()` and `stats()` on its own thread when asked, so the UI thread never waits for the
    session's lock (the session thread holds it while it handles a burst of worker events)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._wanted = threading.Event()
        self._stopping = False
        self._fetching = threading.Lock()  # one reader of changes() at a time: snapshots stay in order
        self._ready: tuple[Changes, SessionStats] | None = None
        self._handoff = threading.Lock()  # guards `_ready`: take's swap and the poller's merge are atomic
        self._thread = threading.Thread(target=self._run, name="session-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = THREAD_JOIN) -> None:
        """End the poller's thread and wait for it (up to `timeout` seconds)."""
        self._stopping = True
        self._wanted.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def request(self) -> None:
        """Ask for the next snapshot; `take` returns it once it is read."""
        self._wanted.set()

    def take(self) -> tuple[Changes, SessionStats] | None:
        """The snapshot read since the last take, if any (never blocks)."""
        with self._handoff:
            ready, self._ready = self._ready, None
        return ready

    def fetch_now(self) -> list[tuple[Changes, SessionStats]]:
        """Any pending snapshot, then a fresh one, read on the calling thread (after a user's command)."""
        with self._fetching:
            pending = self.take()
            fresh = (self._session.changes(), self._session.stats())
        return [pending, fresh] if pending else [fresh]

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            COURTESY.step_aside()  # asked at the end of a tick, whose repaint comes first
            with self._fetching:
                changes, stats = self._session.changes(), self._session.stats()
                with self._handoff:
                    pending = self._ready
                    if pending is not None:  # not taken yet: fold the older changes in first
                        changes = Changes(pending[0].jobs + changes.jobs,
                                          pending[0].removed + changes.removed)
                    self._ready = (changes, stats)


class SessionBridge(QObject):
    """Feeds the model from ONE timer (10 Hz busy, 1 Hz idle): each tick shows the snapshot of
    `session.changes()` and `stats()` that the poller read since the last, with one dataChanged."""

    stats_changed = Signal(object)  # SessionStats
    sample_ready = Signal(object)  # MonitorSample
    jobs_finished = Signal(list)  # list[Job] that finished since the last tick
    shutdown_finished = Signal()

    def __init__(self, session: Session, model: JobsTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model = model
        self.clock = RunClock()
        self.stats: SessionStats = session.stats()
        self.started = False
        self.ticks = 0
        self._sample: MonitorSample | None = None
        self.sampler = MonitorSampler(self.session.stats)
        self.poller = SessionPoller(session)
        self._timer = QTimer(self)
        self._timer.setInterval(IDLE_MS)
        self._timer.timeout.connect(self.tick)
        self.heartbeat = Heartbeat(self, upcoming=self._timer)
        self._shutdown: threading.Thread | None = None

    def start(self) -> None:
        """Start polling. The UI thread takes the GIL back for every slot and paint, each time waiting for
        up to the switch interval while a download thread runs Python: a shorter one keeps the window prompt.
        (The other download threads step aside meanwhile: see engine/courtesy.py and the heartbeat.)"""
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self.sampler.start()
        self.poller.start()
        self._timer.start()

    @property
    def interval(self) -> int:
        return self._timer.interval()

    @property
    def is_active(self) -> bool:
        """True while any job runs or waits to run."""
        return self.stats.running > 0 or (self.started and self.stats.queued > 0)

    @property
    def shutting_down(self) -> bool:
        return self._shutdown is not None

    @property
    def sample(self) -> MonitorSample | None:
        return self._sample

    def start_session(self) -> None:
        self.started = True
        self.session.start()
        self.poke()

    def refresh(self) -> None:
        """Show the session's state now, read on this thread."""
        if self._shutdown is not None:
            return
        for changes, stats in self.poller.fetch_now():
            self._show(changes, stats)

    def poke(self) -> None:
        """Refresh now and poll fast (after a command that changes jobs)."""
        self.refresh()
        self.hurry()

    def hurry(self) -> None:
        """Poll fast from now on (the next tick shows what changed)."""
        self.poller.request()
        if self._shutdown is None and self._timer.interval() != FAST_MS:
            self._timer.setInterval(FAST_MS)

    @Slot()
    def tick(self) -> None:
        """Show the snapshot the poller has read since the last tick, then ask for the next one: the poller
        copies it while this thread is idle, not while this thread needs the GIL for the tick."""
        with COURTESY.busy():  # download threads keep out of the way until the tick is done
            self._tick()

    def _tick(self) -> None:
        self.ticks += 1
        snapshot = self.poller.take()
        if snapshot is not None:
            self._show(*snapshot)
        self.poller.request()
        sample = self.sampler.latest
        if sample is not None and sample is not self._sample:
            self._sample = sample
            self.sample_ready.emit(sample)

    def _show(self, changes: Changes, stats: SessionStats) -> None:
        finished = self.model.apply(changes)
        self.stats = stats
        self.clock.update(self.is_active, stats.paused > 0)
        self.stats_changed.emit(stats)
        if finished:
            self.jobs_finished.emit(finished)
        busy = self.is_active or bool(changes.jobs) or bool(changes.removed)
        wanted = FAST_MS if busy else IDLE_MS
        if self._timer.interval() != wanted and self._timer.isActive():
            self._timer.setInterval(wanted)
        self.heartbeat.set_beating(self.is_active and self._shutdown is None)

    def shutdown_async(self, timeout: float = 5.0, then: Callable[[], None] | None = None) -> None:
        """Stop polling, sampling and all workers on a helper thread, run `then`, emit `shutdown_finished`."""
        if self._shutdown is not None:
            return
        self._timer.stop()
        self.heartbeat.set_beating(False)
        self._shutdown = threading.Thread(target=self._shut_down, args=(timeout, then),
                                          name="session-shutdown", daemon=True)
        self._shutdown.start()

    def close(self, timeout: float = 2.0, then: Callable[[], None] | None = None) -> None:
        """`shutdown_async` (or the one under way), waited for: the app quits without closing the window."""
        self.shutdown_async(timeout, then)
        assert self._shutdown is not None
        self._shutdown.join(timeout + CLOSE_SLACK)

    def _shut_down(self, timeout: float, then: Callable[[], None] | None) -> None:
        try:
            self.sampler.stop()
            self.poller.stop()
            self.session.shutdown(timeout)
            if then is not None:
                then()
        except Exception:
            log.exception("stopping the session failed")
        finally:
            self.shutdown_finished.emit()
