"""Priorities in the window: Raise and Lower priority on the selected rows, and the order they run in."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from gui.jobs_model import Column
from gui.main_window import MainWindow
from tests.gui.conftest import MakeWindow, all_done, column_texts, rows_shown, select_rows, serve_files
from tests.support.http_server import TestServer

pytestmark = pytest.mark.timeout(60)


def priorities(window: MainWindow) -> list[str]:
    return column_texts(window, Column.PRIORITY)


def first_download(server: TestServer, path: str) -> float:
    """When the first download request for `path` arrived (the mode probe's HEAD and 1-byte GET aside)."""
    return min(r.time for r in server.requests_for(path) if r.method == "GET" and r.header("Range") is None)


def test_raise_and_lower_the_selected_rows(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, http_server: TestServer,
) -> None:
    window.add_text("\n".join(serve_files(http_server, 4, size=1000)))
    qtbot.waitUntil(lambda: priorities(window) == ["0", "0", "0", "0"])
    assert window.commands.raise_priority.shortcut() == QKeySequence("Ctrl+Up")
    assert window.commands.lower_priority.shortcut() == QKeySequence("Ctrl+Down")
    assert window.view.model().headerData(Column.PRIORITY, Qt.Orientation.Horizontal) == "Priority"

    select_rows(window, [1, 3])
    window.commands.raise_priority.trigger()
    qtbot.waitUntil(lambda: priorities(window) == ["0", "+1", "0", "+1"], timeout=5_000)
    window.commands.raise_priority.trigger()
    qtbot.waitUntil(lambda: priorities(window) == ["0", "+2", "0", "+2"], timeout=5_000)

    select_rows(window, [0])
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: priorities(window) == ["-1", "+2", "0", "+2"], timeout=5_000)

    third = window.model.jobs()[2]
    entries = dict(window.view.context_entries([third]))
    assert "Raise priority" in entries and "Lower priority" in entries
    entries["Lower priority"]()
    qtbot.waitUntil(lambda: priorities(window) == ["-1", "+2", "-1", "+2"], timeout=5_000)
    assert [j.priority for j in window.model.jobs()] == [-1, 2, -1, 2]


def test_a_raised_download_starts_first(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, http_server: TestServer,
) -> None:
    window = make_window("sequential")
    files = list(serve_files(http_server, 4, size=2000))
    window.add_text("\n".join(files))
    rows_shown(qtbot, window, 4)
    select_rows(window, [2])
    window.commands.raise_priority.trigger()
    qtbot.waitUntil(lambda: priorities(window) == ["0", "0", "+1", "0"], timeout=5_000)
    window.start()
    qtbot.waitUntil(lambda: all_done(window, 4), timeout=30_000)
    order = sorted(range(4), key=lambda i: first_download(http_server, f"/file-{i}.bin"))
    assert order == [2, 0, 1, 3]  # priority first, then the order they were added
    assert "Raise priority" not in dict(window.view.context_entries([window.model.jobs()[0]]))  # done: no use
