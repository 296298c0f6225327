"""The bridge: one timer, at most one dataChanged per tick, fast while running and slow when idle."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer

from engine.courtesy import COURTESY, Courtesy
from gui.bridge import FAST_MS, IDLE_MS, RunClock
from gui.heartbeat import LEAD_MS, Heartbeat
from gui.main_window import MainWindow
from tests.gui.conftest import all_done, serve_files
from tests.support.http_server import TestServer

pytestmark = pytest.mark.timeout(60)


def test_one_data_changed_per_tick_and_the_timer_slows_when_idle(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, http_server: TestServer,
) -> None:
    assert window.bridge.interval == IDLE_MS
    files = serve_files(http_server, 20, size=300_000, rate=2_000_000)
    per_tick: list[int] = [0]
    window.model.dataChanged.connect(lambda *args: per_tick.__setitem__(-1, per_tick[-1] + 1))
    window.bridge.stats_changed.connect(lambda stats: per_tick.append(0))
    window.add_text("\n".join(files))
    window.start()
    assert window.bridge.interval == FAST_MS
    qtbot.waitUntil(lambda: all_done(window, 20), timeout=30_000)
    assert len(per_tick) > 5 and max(per_tick) <= 1
    qtbot.waitUntil(lambda: window.bridge.interval == IDLE_MS, timeout=5_000)


def test_the_heartbeat_beats_while_downloads_run_and_stops_with_them(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, http_server: TestServer,
) -> None:
    """While a run lasts, the window's heartbeat tells the download threads when to step aside; after it,
    nothing holds them (a headless run in the same process goes at full pace)."""
    assert not window.bridge.heartbeat.beating
    files = serve_files(http_server, 10, size=300_000, rate=2_000_000)
    window.add_text("\n".join(files))
    window.start()
    qtbot.waitUntil(lambda: window.bridge.heartbeat.beating, timeout=5_000)
    qtbot.waitUntil(lambda: all_done(window, 10), timeout=30_000)
    qtbot.waitUntil(lambda: not window.bridge.heartbeat.beating, timeout=5_000)
    assert not COURTESY.wanted()


class CountingCourtesy(Courtesy):
    def __init__(self) -> None:
        super().__init__()
        self.beats = 0
        self.reservations = 0

    def beat(self) -> None:
        super().beat()
        self.beats += 1

    def reserve(self, seconds: float) -> None:
        super().reserve(seconds)
        self.reservations += 1


@pytest.mark.parametrize(("due_in_ms", "reserved"), [(LEAD_MS - 2, True), (60_000, False)])
def test_the_heartbeat_reserves_the_gil_just_before_the_refresh_is_due(  # type: ignore[no-untyped-def]
    qtbot, due_in_ms: int, reserved: bool,
) -> None:
    refresh = QTimer()
    refresh.start(due_in_ms)
    courtesy = CountingCourtesy()
    heartbeat = Heartbeat(upcoming=refresh, courtesy=courtesy)
    heartbeat.set_beating(True)
    qtbot.waitUntil(lambda: courtesy.beats >= 3, timeout=5_000)
    assert (courtesy.reservations > 0) is reserved
    heartbeat.set_beating(False)
    refresh.stop()
    assert not courtesy.wanted()


def test_run_clock_holds_while_paused_and_restarts_for_a_new_batch() -> None:
    now = [0.0]
    clock = RunClock(lambda: now[0])
    clock.update(active=True, paused=False)
    now[0] = 5.0
    clock.update(active=False, paused=True)  # everything paused
    now[0] = 50.0
    assert clock.elapsed() == 5.0
    clock.update(active=True, paused=True)  # resumed: goes on from 5 s
    now[0] = 52.0
    assert clock.elapsed() == 7.0
    clock.update(active=False, paused=False)
    clock.update(active=True, paused=False)  # a new batch starts from zero
    now[0] = 53.0
    assert clock.elapsed() == 1.0
