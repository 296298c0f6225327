"""Closing the window: it asks while downloads run, and a confirmed close leaves no child process."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from PySide6.QtWidgets import QMessageBox

from engine.jobs import JobState
from engine.store import JobStore
from engine.workers import stop_process_helpers
from tests.gui.conftest import SHUTDOWN_MS, MakeWindow, serve_files
from tests.support.http_server import TestServer

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("mode", ["process-pool", "processes", "thread-pool"])
def test_closing_mid_run_leaves_no_child_process(
    qtbot, make_window: MakeWindow, http_server: TestServer, mode: str,  # type: ignore[no-untyped-def]
) -> None:
    files = serve_files(http_server, 4, size=400_000, rate=100_000)
    window = make_window(mode, workers=2)
    window.add_text("\n".join(files))
    window.start()
    qtbot.waitUntil(lambda: any(j.state is JobState.RUNNING and j.bytes_done > 0
                                for j in window.model.jobs()), timeout=20_000)
    if window.bridge.stats.worker_pids:
        assert psutil.Process().children(recursive=True)
    with qtbot.waitSignal(window.shut_down, timeout=SHUTDOWN_MS):
        window.close()  # confirm_close is off in tests
    assert window.is_shut_down and not window.isVisible()
    stop_process_helpers()
    _, alive = psutil.wait_procs(psutil.Process().children(recursive=True), timeout=5)
    assert alive == []


def test_quitting_without_closing_the_window_stops_everything(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, http_server: TestServer, tmp_path: Path,
) -> None:
    files = serve_files(http_server, 4, size=400_000, rate=100_000)
    window = make_window("process-pool", workers=2, data_dir=tmp_path / "data")
    window.pipeline.set_enabled(True)
    window.add_text("\n".join(files))
    window.start()
    qtbot.waitUntil(lambda: any(j.state is JobState.RUNNING and j.bytes_done > 0
                                for j in window.model.jobs()), timeout=20_000)
    assert psutil.Process().children(recursive=True)
    window.shut_down_now(2.0)  # what gui.app.main does when the app quits without a closeEvent
    assert window.is_shut_down and window.engine.ended
    assert window.engine.process.exitcode == 0  # it saved the queue and ended by itself
    with JobStore(tmp_path / "data") as reopened:  # running jobs went back to the queue
        assert {j.state for j in reopened.load()} <= {JobState.QUEUED, JobState.DONE}
    stop_process_helpers()
    _, alive = psutil.wait_procs(psutil.Process().children(recursive=True), timeout=5)
    assert alive == []


def test_closing_during_a_run_asks_first(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, http_server: TestServer, monkeypatch,
) -> None:
    files = serve_files(http_server, 2, size=400_000, rate=100_000)
    window = make_window("thread-pool", workers=2)
    window.add_text("\n".join(files))
    window.start()
    qtbot.waitUntil(lambda: window.bridge.is_active, timeout=10_000)
    window.confirm_close = True
    asked: list[str] = []

    def answer(button: QMessageBox.StandardButton):  # type: ignore[no-untyped-def]
        def question(parent, title, text, *args):  # type: ignore[no-untyped-def]
            asked.append(text)
            return button
        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    window.close()
    assert len(asked) == 1 and "running" in asked[0]
    assert window.isVisible() and not window.bridge.shutting_down  # the person said no
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Close))
    with qtbot.waitSignal(window.shut_down, timeout=SHUTDOWN_MS):
        window.close()
    assert len(asked) == 2 and window.is_shut_down


def test_closing_when_idle_does_not_ask(qtbot, make_window: MakeWindow, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.confirm_close = True
    monkeypatch.setattr(QMessageBox, "question", lambda *args: pytest.fail("asked although nothing runs"))
    with qtbot.waitSignal(window.shut_down, timeout=SHUTDOWN_MS):
        window.close()
