"""Fixtures for the window tests: offscreen Qt, throwaway settings, and a window that is always shut down."""

from __future__ import annotations

import os

from tests.support.offscreen import PLATFORM

os.environ["QT_QPA_PLATFORM"] = PLATFORM

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QSettings,
    QStandardPaths,
)

from engine.jobs import Job, JobState
from gui.jobs_model import Column
from gui.main_window import MainWindow
from tests.support.http_server import TestServer, payload

QStandardPaths.setTestModeEnabled(True)  # never touch the real Downloads folder or settings

MakeWindow = Callable[..., MainWindow]
SHUTDOWN_MS = 30_000


@pytest.fixture(autouse=True)
def _application(qapp):  # type: ignore[no-untyped-def]
    """Every test here needs the QApplication, even those that build only a model."""
    return qapp


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def make_window(qtbot, settings: QSettings, downloads: Path) -> Iterator[MakeWindow]:  # type: ignore[no-untyped-def]
    """Build windows (mode, workers); each is closed and its workers stopped at the end of the test."""
    windows: list[MainWindow] = []

    def make(mode: str | None = "thread-pool", workers: int | None = None, show: bool = True,
             settings_: QSettings | None = None, data_dir: Path | None = None,
             folder: bool = True) -> MainWindow:
        window = MainWindow(settings_ or settings, mode=mode, workers=workers, data_dir=data_dir)
        window.confirm_close = False
        if folder:
            window.input.set_folder(str(downloads))
        windows.append(window)
        if show:
            window.show()
            qtbot.waitExposed(window)
        return window

    yield make
    for window in windows:
        shut_down(qtbot, window)
        window.deleteLater()  # now, while the QApplication lives: never at interpreter exit
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def window(make_window: MakeWindow) -> MainWindow:
    return make_window()


def shut_down(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """Close without asking and wait until every worker has ended."""
    window.confirm_close = False
    window.close()
    qtbot.waitUntil(lambda: window.is_shut_down, timeout=SHUTDOWN_MS)


def serve_files(server: TestServer, count: int, size: int = 150_000, prefix: str = "file",
                **faults: object) -> dict[str, bytes]:
    """Register `count` files of pseudo-random bytes; returns url -> content."""
    files = {}
    for i in range(count):
        data = payload(f"{prefix}-{i}", size + i * 1013)
        files[server.add(f"/{prefix}-{i}.bin", data, **faults)] = data
    return files


def all_done(window: MainWindow, count: int) -> bool:
    jobs = window.model.jobs()
    return len(jobs) == count and all(j.state is JobState.DONE for j in jobs)


def states(window: MainWindow) -> list[JobState]:
    return [j.state for j in window.model.jobs()]


def column_texts(window: MainWindow, column: Column) -> list[str]:
    """One column of the downloads table as shown, top to bottom."""
    model = window.view.model()
    return [str(model.index(row, column).data()) for row in range(model.rowCount())]


def select_rows(window: MainWindow, rows: list[int]) -> None:
    """Select these rows of the downloads table (as shown), and only these."""
    model = window.view.model()
    selection = QItemSelection()
    for row in rows:
        selection.select(model.index(row, 0), model.index(row, model.columnCount() - 1))
    window.view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)


def rows_shown(qtbot, window: MainWindow, count: int, timeout: int = 10_000) -> list[Job]:  # type: ignore[no-untyped-def]
    """Wait until the table shows `count` rows (the engine sends them in its next snapshot); their jobs."""
    qtbot.waitUntil(lambda: window.model.rowCount() == count, timeout=timeout)
    return window.model.jobs()
