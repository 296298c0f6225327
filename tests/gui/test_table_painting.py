"""What the downloads table paints, read back from its pixels: bars as long as the progress, the selection,
the names; and no row shown from a stale image after a change, a scroll or a sort."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPalette

from engine.jobs import Job, JobState
from engine.protocol import Changes
from gui.jobs_model import Column
from gui.main_window import MainWindow
from gui.state_icons import STATE_COLORS

pytestmark = pytest.mark.timeout(60)
RUNNING_FILL = QColor(STATE_COLORS[JobState.RUNNING])
TOTAL = 1_000_000


def running_job(job_id: int, fraction: float) -> Job:
    job = Job(f"http://files.example/f{job_id:03d}.bin", "/tmp", id=job_id)
    job.state, job.name, job.total = JobState.RUNNING, f"f{job_id:03d}.bin", TOTAL
    job.bytes_done = round(TOTAL * fraction)
    return job


def show(qtbot, window: MainWindow, jobs: list[Job]) -> None:  # type: ignore[no-untyped-def]
    window.model.apply(Changes(jobs, []))
    qtbot.waitUntil(lambda: window.view.model().rowCount() >= len(jobs), timeout=5000)


def picture(window: MainWindow) -> QImage:
    return window.view.viewport().grab().toImage()


def row_of(window: MainWindow, job_id: int) -> int:
    """The job's row in the table as shown (sorted or not)."""
    source = window.model.row_of(job_id)
    assert source is not None
    return window.view.proxy.mapFromSource(window.model.index(source, 0)).row()


def bar_fill(window: MainWindow, image: QImage, job_id: int) -> float:
    """The share of the progress cell's bar painted in the running colour, along a line near its top
    (above the centred percentage)."""
    rect = window.view.visualRect(window.view.model().index(row_of(window, job_id), Column.PROGRESS))
    left, right, y = rect.left() + 4, rect.right() - 4, rect.top() + 5
    filled = [x for x in range(left, right) if _close(image.pixelColor(x, y), RUNNING_FILL)]
    return (max(filled) - left + 1) / (right - left) if filled else 0.0


def rgb(colour: QColor) -> tuple[int, int, int]:
    return colour.red(), colour.green(), colour.blue()


def cell_colours(window: MainWindow, image: QImage, job_id: int, column: Column) -> set[tuple[int, int, int]]:
    rect = window.view.visualRect(window.view.model().index(row_of(window, job_id), column))
    return {rgb(image.pixelColor(x, y)) for x in range(rect.left(), rect.right(), 2)
            for y in range(rect.top() + 1, rect.bottom())}


def _close(colour: QColor, wanted: QColor) -> bool:
    return all(abs(a - b) <= 8 for a, b in zip(rgb(colour), rgb(wanted), strict=True))


def test_each_bar_is_as_long_as_its_progress_and_follows_it(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    jobs = [running_job(9001, 0.2), running_job(9002, 0.9)]
    show(qtbot, window, jobs)
    image = picture(window)
    assert bar_fill(window, image, 9001) == pytest.approx(0.2, abs=0.04)
    assert bar_fill(window, image, 9002) == pytest.approx(0.9, abs=0.04)
    jobs[0].bytes_done = round(TOTAL * 0.7)  # only the first row changes: its image must be painted anew
    show(qtbot, window, [jobs[0]])
    image = picture(window)
    assert bar_fill(window, image, 9001) == pytest.approx(0.7, abs=0.04)
    assert bar_fill(window, image, 9002) == pytest.approx(0.9, abs=0.04)


def test_a_selected_row_is_highlighted_until_it_is_deselected(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    show(qtbot, window, [running_job(9001, 0.5), running_job(9002, 0.5)])
    highlight = rgb(window.view.palette().color(QPalette.ColorRole.Highlight))
    assert highlight not in cell_colours(window, picture(window), 9001, Column.SIZE)
    window.view.selectRow(row_of(window, 9001))
    image = picture(window)
    assert highlight in cell_colours(window, image, 9001, Column.SIZE)
    assert highlight not in cell_colours(window, image, 9002, Column.SIZE)
    window.view.clearSelection()
    assert highlight not in cell_colours(window, picture(window), 9001, Column.SIZE)


def test_names_are_painted_and_scrolled_or_sorted_rows_show_their_own_bars(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    jobs = [running_job(9000 + i, i / 100) for i in range(1, 81)]  # more rows than fit
    show(qtbot, window, jobs)
    image = picture(window)
    assert len(cell_colours(window, image, 9001, Column.NAME)) > 2  # text, not an empty cell
    assert bar_fill(window, image, 9010) == pytest.approx(0.10, abs=0.04)
    window.view.scrollToBottom()
    image = picture(window)
    assert bar_fill(window, image, 9080) == pytest.approx(0.80, abs=0.04)
    window.view.sortByColumn(Column.PROGRESS, Qt.SortOrder.DescendingOrder)
    window.view.scrollToTop()
    image = picture(window)
    assert row_of(window, 9080) == 0
    assert bar_fill(window, image, 9080) == pytest.approx(0.80, abs=0.04)
