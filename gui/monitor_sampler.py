"""The monitor's sampling thread: the app's process tree twice a second, without blocking the UI thread."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

from engine.monitor import MonitorSample, SystemMonitor
from engine.session import SessionStats

log = logging.getLogger("parafetch")

SAMPLE_EVERY = 0.5  # monitor samples per second: 2


def without_first_readings(sample: MonitorSample, seen: set[int]) -> MonitorSample:
    """Zero the CPU of child processes seen for the first time.

    SystemMonitor sets a new child's CPU baseline and reads it again within the same sample, over a
    wall-clock interval of microseconds, so a starting process can show hundreds of percent.
    """
    fresh = {p.pid for p in sample.per_process if p.pid not in seen and p.role != "app"}
    if not fresh:
        return sample
    processes = tuple(dataclasses.replace(p, cpu_percent=0.0) if p.pid in fresh else p
                      for p in sample.per_process)
    return dataclasses.replace(sample, cpu_percent=sum(p.cpu_percent for p in processes),
                               per_process=processes)


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

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        failures = 0
        seen: set[int] = set()
        while True:
            try:
                stats = self._stats()
                self._pids = stats.worker_pids
                sample = without_first_readings(self._monitor.sample(), seen)
                seen = {p.pid for p in sample.per_process}
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
