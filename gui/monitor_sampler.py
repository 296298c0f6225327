"""The monitor's sampling thread: the app's process tree twice a second, without blocking the UI thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from engine.courtesy import COURTESY
from engine.monitor import MonitorSample, SystemMonitor
from engine.session import SessionStats

log = logging.getLogger("parafetch")

SAMPLE_EVERY = 0.5  # monitor samples per second: 2


class MonitorSampler:
    """Samples the process tree on its own thread, so the UI thread never waits on psutil.

    `listeners` are called on that thread with each sample and the session's stats (the chart draws
    itself there); `latest` is set after them, so the UI sees a sample only once they are done.
    """

    def __init__(self, stats: Callable[[], SessionStats], interval: float = SAMPLE_EVERY) -> None:
        self._stats = stats
        self._pids: frozenset[int] = frozenset()
        self._monitor = SystemMonitor(lambda: self._pids)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor-sampler", daemon=True)
        self.listeners: list[Callable[[MonitorSample, SessionStats], None]] = []
        self.latest: MonitorSample | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """End the sampling thread and wait for it (up to `timeout` seconds)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while True:
            COURTESY.step_aside()
            try:
                stats = self._stats()
                self._pids = stats.worker_pids
                sample = self._monitor.sample()
                for listener in self.listeners:
                    listener(sample, stats)
                self.latest = sample
                failures = 0
            except Exception:  # a sampling glitch must not end the monitor
                failures += 1
                if failures == 1:
                    log.exception("monitor sample failed")
            if self._stop.wait(self._interval):
                return
