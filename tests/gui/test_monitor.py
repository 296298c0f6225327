"""The monitor panel: threads follow a live pool resize; process counts match each mode."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import psutil
import pytest
from PySide6.QtCore import Qt, QTimer

from engine.jobs import JobState
from engine.monitor import MonitorSample
from gui.main_window import MainWindow
from tests.gui.conftest import MakeWindow, rows_shown, serve_files
from tests.support.http_server import TestServer
from tests.support.remote_server import remote_server

SIZE, RATE = 400_000, 100_000  # about 4 s per file: jobs stay running while we look


def wait_for_sample(qtbot, window: MainWindow,  # type: ignore[no-untyped-def]
                    check: Callable[[MonitorSample], bool] = lambda s: True) -> MonitorSample:
    """Wait for a sample shown by the panel, taken from now on, that passes `check`."""
    since = time.monotonic()

    def shown() -> bool:
        sample = window.monitor.last_sample
        return sample is not None and sample.time > since and check(sample)

    qtbot.waitUntil(shown, timeout=10_000)
    assert window.monitor.last_sample is not None
    return window.monitor.last_sample


def running(window: MainWindow) -> int:
    return sum(1 for j in window.model.jobs() if j.state is JobState.RUNNING)


@pytest.mark.timeout(60)
def test_changing_the_worker_count_resizes_a_running_thread_pool(
    qtbot, make_window: MakeWindow, http_server: TestServer,  # type: ignore[no-untyped-def]
) -> None:
    files = serve_files(http_server, 10, SIZE, rate=RATE)
    window = make_window("thread-pool", workers=2)
    assert window.input.workers_box.isEnabled() and window.input.workers() == 2
    window.add_text("\n".join(files))
    window.start()
    qtbot.waitUntil(lambda: running(window) == 2, timeout=10_000)
    before = wait_for_sample(qtbot, window)
    assert before.processes == 1
    window.input.workers_box.setValue(5)  # what the spin box does when the person changes it
    qtbot.waitUntil(lambda: running(window) == 5, timeout=10_000)
    assert window.bridge.stats.workers == 5
    # three more worker threads (and, in this test, three more server threads serving them)
    after = wait_for_sample(qtbot, window, lambda s: s.threads >= before.threads + 3)
    assert int(window.monitor.values["threads"].text()) == after.threads
    assert window.monitor.values["processes"].text() == "1"
    assert "5 running" in window.monitor.workers_label.text()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["sequential", "threads", "thread-pool"])
def test_thread_modes_run_in_one_process(
    qtbot, make_window: MakeWindow, http_server: TestServer, mode: str,  # type: ignore[no-untyped-def]
) -> None:
    files = serve_files(http_server, 3, SIZE, mode, rate=RATE)
    window = make_window(mode, workers=3)
    assert window.input.workers_box.isEnabled() == (mode == "thread-pool")
    window.add_text("\n".join(files))
    window.start()
    qtbot.waitUntil(lambda: running(window) >= 1, timeout=10_000)
    sample = wait_for_sample(qtbot, window)
    assert sample.processes == 1
    assert [p.role for p in window.monitor.processes.processes()] == ["window", "engine"]
    assert window.monitor.processes.processes()[1].pid == window.engine.pid
    assert window.monitor.values["processes"].text() == "1"


@pytest.mark.timeout(60)
def test_a_process_pool_of_n_shows_n_worker_processes(
    qtbot, make_window: MakeWindow, http_server: TestServer,  # type: ignore[no-untyped-def]
) -> None:
    files = serve_files(http_server, 6, SIZE, rate=RATE)
    window = make_window("process-pool", workers=3)
    window.add_text("\n".join(files))
    window.start()
    qtbot.waitUntil(lambda: running(window) == 3, timeout=20_000)
    sample = wait_for_sample(qtbot, window, lambda s: sum(p.role == "worker" for p in s.per_process) == 3)
    assert sample.processes >= 4  # the engine, three workers, and multiprocessing's helpers
    roles = [p.role for p in window.monitor.processes.processes()]
    assert roles.count("worker") == 3 and roles[:2] == ["window", "engine"]
    assert int(window.monitor.values["processes"].text()) >= 4
    assert "3 worker processes" in window.monitor.workers_label.text()


@pytest.mark.timeout(120)
def test_64_processes_start_while_the_window_keeps_ticking_and_the_count_follows_the_os(
    qtbot, make_window: MakeWindow,  # type: ignore[no-untyped-def]
) -> None:
    window = make_window("processes")
    ticks: list[float] = []
    clock = QTimer()
    clock.setTimerType(Qt.TimerType.PreciseTimer)
    clock.timeout.connect(lambda: ticks.append(time.monotonic()))
    samples: list[MonitorSample] = []
    window.bridge.sample_ready.connect(samples.append)
    with remote_server() as base_url:  # about 5 s a file, so all 64 run at once
        window.add_text("\n".join(f"{base_url}/gen/200000/many-{i}.bin?rate=40000" for i in range(64)))
        rows_shown(qtbot, window, 64)
        clock.start(10)
        began = time.monotonic()
        window.start()
        qtbot.waitUntil(lambda: running(window) == 64, timeout=60_000)
        started = time.monotonic()
        clock.stop()
        gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
        assert max(gaps) < 0.1, f"the UI thread stalled for {max(gaps) * 1000:.0f} ms"
        wait_for_sample(qtbot, window)  # the first one after the last worker started
        around = [s.time for s in samples if began - 0.6 <= s.time]  # from the one before Start

        assert around[0] <= began and around[-1] >= started
        assert max(b - a for a, b in itertools.pairwise(around)) < 1.0  # 2 Hz while they start
        engine = psutil.Process(window.engine.pid)
        counted = 1 + len(engine.children(recursive=True))  # the engine, its workers and helpers, as ps sees
        asked = time.monotonic()
        sample = wait_for_sample(qtbot, window, lambda s: s.time > asked)
        assert sample.processes == counted
        assert sum(p.role == "worker" for p in sample.per_process) == 64
        window.engine.cancel()
        qtbot.waitUntil(lambda: running(window) == 0, timeout=30_000)
