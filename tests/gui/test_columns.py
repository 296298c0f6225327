"""The Priority, Attempts and Next try columns, and the header's menu that shows and hides columns."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt

from engine.jobs import JobState
from engine.protocol import Changes
from gui.downloads_view import HIDDEN_AT_FIRST
from gui.jobs_model import Column, JobsTableModel
from gui.main_window import MainWindow
from tests.gui.conftest import rows_shown
from tests.gui.test_jobs_model import make_job
from tests.support.http_server import TestServer, payload

pytestmark = pytest.mark.timeout(60)


def cell(window: MainWindow, column: Column) -> str:
    return str(window.model.index(0, column).data(Qt.ItemDataRole.DisplayRole))


def test_a_retrying_download_shows_its_attempts_and_when_it_is_tried_next(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, http_server: TestServer,
) -> None:
    data = payload("busy", 4000)
    url = http_server.add("/busy.bin", data, status=503, retry_after="3")
    window.add_text(url)
    rows_shown(qtbot, window, 1)
    assert cell(window, Column.ATTEMPTS) == "" and cell(window, Column.NEXT_TRY) == ""
    window.start()
    qtbot.waitUntil(lambda: cell(window, Column.NEXT_TRY) != "", timeout=10_000)
    assert re.fullmatch(r"in [1-3] s", cell(window, Column.NEXT_TRY)), cell(window, Column.NEXT_TRY)
    assert cell(window, Column.ATTEMPTS) == "1/5"
    assert cell(window, Column.STATE) == "retrying"
    http_server.add("/busy.bin", data)  # the server is back: the next attempt succeeds
    seen: set[str] = set()

    def tried_again() -> bool:
        text = cell(window, Column.NEXT_TRY)
        seen.add(text)
        return text == ""

    qtbot.waitUntil(tried_again, timeout=10_000)
    assert len(seen - {""}) >= 2, seen  # the bridge's refresh counted down
    qtbot.waitUntil(lambda: window.model.jobs()[0].state is JobState.DONE, timeout=10_000)
    assert cell(window, Column.ATTEMPTS) == "2/5"
    assert cell(window, Column.NEXT_TRY) == ""


def test_cells_of_the_new_columns() -> None:
    model = JobsTableModel(clock=lambda: 10.0, max_attempts=4)
    jobs = [make_job(1, priority=2), make_job(2, JobState.RUNNING, attempts=2, next_attempt_at=14.2),
            make_job(3, JobState.RUNNING, attempts=1, next_attempt_at=85.0),
            make_job(4, JobState.FAILED, attempts=4, priority=-1)]
    model.apply(Changes(jobs, []))
    columns = (Column.PRIORITY, Column.ATTEMPTS, Column.NEXT_TRY)
    cells = [[model.index(row, column).data() for column in columns] for row in range(4)]
    assert cells == [["+2", "", ""], ["0", "2/4", "in 5 s"], ["0", "1/4", "in 1:15"], ["-1", "4/4", ""]]
    assert model.index(1, Column.STATE).data() == "retrying"
    assert model.index(1, Column.ETA).data() == ""  # the wait shows under Next try only
    assert [job.id for job in model.failed_jobs()] == [jobs[3].id]
    resolved = make_job(4, JobState.FAILED, resolved=True)
    resolved.id = jobs[3].id
    model.apply(Changes([resolved], []))
    assert model.failed_jobs() == []


def test_the_header_menu_shows_and_hides_columns(window: MainWindow) -> None:
    view = window.view
    assert all(view.isColumnHidden(column) for column in HIDDEN_AT_FIRST)
    assert not any(view.isColumnHidden(c) for c in (Column.PRIORITY, Column.ATTEMPTS, Column.NEXT_TRY))
    shown = sum(view.columnWidth(c) for c in Column if not view.isColumnHidden(c) and c is not Column.NAME)
    assert shown + 140 < view.viewport().width()  # the name keeps room beside every column shown
    assert view.horizontalScrollBar().maximum() == 0
    menu = view.column_menu()
    entries = {action.text(): action for action in menu.actions()}
    assert list(entries) == ["Host", "Size", "Progress", "Speed", "ETA", "Elapsed", "State", "Priority",
                             "Attempts", "Next try", "Worker"]
    assert not entries["Host"].isChecked() and entries["Attempts"].isChecked()
    entries["Host"].trigger()
    assert not view.isColumnHidden(Column.HOST)
    entries["Attempts"].trigger()
    assert view.isColumnHidden(Column.ATTEMPTS)
