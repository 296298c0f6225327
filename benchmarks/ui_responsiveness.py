"""How responsive the window stays while 2000 downloads run in thread-pool mode: the UI thread's stalls.

A 5 ms timer on the UI thread records how late each of its ticks fires; a late tick is time the window
could not react to the person. The downloads come from the project's local test server, run in a child
process (as a real server would be) unless --server-in-process is given. Goal: p99 under 16 ms (one frame
at 60 Hz), max under 100 ms.

    .venv/bin/python benchmarks/ui_responsiveness.py [--files 2000] [--size 16384] [--workers 8] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.offscreen import PLATFORM

os.environ.setdefault("QT_QPA_PLATFORM", PLATFORM)

from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from engine.workers import stop_process_helpers
from gui.app import create_app
from gui.main_window import MainWindow
from tests.support.remote_server import remote_server

PERIOD_MS = 5


class LatenessProbe:
    """A 5 ms precise timer; records how late each tick comes, in milliseconds."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(PERIOD_MS)
        self._timer.timeout.connect(self._tick)
        self._last = 0

    def start(self) -> None:
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        self.late.append(max(0.0, (now - self._last) / 1e6 - PERIOD_MS))
        self._last = now


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextmanager
def local_server(in_process: bool) -> Iterator[str]:
    """The test server's base URL: in a child process (niced, as a real server elsewhere), or in this one."""
    if not in_process:
        with remote_server() as base_url:
            yield base_url
        return
    from tests.support.http_server import TestServer

    server = TestServer().start()
    try:
        yield server.base_url
    finally:
        server.stop()


@dataclass
class Result:
    """One run: the lateness of each 5 ms tick while the downloads ran, the stall of adding the 2000
    URLs (one action of the person, before the run), and what the run did."""

    late: list[float]
    add_stall: float
    elapsed: float
    done: int
    failed: int
    ticks: int

    def row(self) -> str:
        late = self.late
        return (f"{statistics.median(late):7.2f} {percentile(late, 0.90):7.2f} {percentile(late, 0.99):7.2f} "
                f"{max(late):7.2f} {self.add_stall:7.1f} {len(late):7d} {self.elapsed:7.1f} {self.done:6d} "
                f"{self.failed:6d}")


def run_once(app: QApplication, base_url: str, files: int, size: int, workers: int, timeout: float,
             tag: str) -> Result:
    """Queue `files` downloads in the window, start them, and time the 5 ms probe until all are done."""
    urls = "\n".join(f"{base_url}/gen/{size}/{tag}-{i:05d}.bin" for i in range(files))
    probe = LatenessProbe()
    with tempfile.TemporaryDirectory(prefix="parafetch-bench-") as folder:
        window = MainWindow(QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat),
                            mode="thread-pool", workers=workers)
        window.confirm_close = False
        window.input.set_folder(str(Path(folder) / "files"))
        window.resize(1280, 800)
        window.show()
        loop = QEventLoop()
        QTimer.singleShot(300, loop.quit)
        loop.exec()
        probe.start()
        started = time.perf_counter()
        window.add_text(urls)  # parsing and adding the rows: timed too, reported on its own
        window.start()
        added_at = len(probe.late)  # the next tick's lateness is the add's stall
        def check() -> None:
            if window.bridge.stats.finished >= files or time.perf_counter() - started > timeout:
                loop.quit()

        done = QTimer()
        done.timeout.connect(check)
        done.start(50)
        loop.exec()
        done.stop()
        elapsed = time.perf_counter() - started
        probe.stop()
        stats, ticks = window.bridge.stats, window.bridge.ticks
        window.close()
        while not window.is_shut_down:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        window.deleteLater()
        app.processEvents()
    return Result(probe.late[added_at + 1:], probe.late[added_at], elapsed, stats.done, stats.failed, ticks)


def run(files: int, size: int, workers: int, in_process: bool, timeout: float, repeat: int = 1) -> int:
    app = create_app([sys.argv[0]])
    results = []
    try:
        with local_server(in_process) as base_url:
            for i in range(repeat):
                results.append(run_once(app, base_url, files, size, workers, timeout, f"run{i}"))
    finally:
        stop_process_helpers()
    where = "in this process" if in_process else "in a child process (niced)"
    print(f"UI thread lateness of a {PERIOD_MS} ms timer while {files} files of {size} B download in "
          f"thread-pool mode, {workers} workers; server {where}; {os.cpu_count()} CPUs")
    print(f"  {'run':>3} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'add':>7} {'ticks':>7} {'secs':>7} "
          f"{'done':>6} {'failed':>6}   (ms; p50-max while the downloads run; add: adding the list)")
    for i, result in enumerate(results, 1):
        print(f"  {i:3d} {result.row()}")
    p99 = statistics.median(percentile(r.late, 0.99) for r in results)
    worst = statistics.median(max(r.late) for r in results)
    add = statistics.median(r.add_stall for r in results)
    print(f"  median over runs: p99 {p99:.2f} ms, max {worst:.2f} ms while running "
          f"(goal: p99 < 16, max < 100); adding the list stalled {add:.0f} ms")
    ok = p99 < 16 and worst < 100 and all(r.done == files for r in results)
    print("  meets the goal" if ok else "  MISSES the goal")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", type=int, default=16 * 1024, help="bytes per file")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--server-in-process", action="store_true",
                        help="run the test server in this process (its threads then compete for the GIL)")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--repeat", type=int, default=5, help="runs; the summary is their median")
    args = parser.parse_args()
    return run(args.files, args.size, args.workers, args.server_in_process, args.timeout, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
