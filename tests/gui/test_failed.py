"""The Failed view: what failed for good is listed with its history; Retry, Mark resolved, Export; notices."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSystemTrayIcon

from engine.jobs import JobState
from engine.store import default_data_dir
from gui.failed_model import FailedColumn, FailedModel
from gui.jobs_model import Column
from gui.main_window import MainWindow
from gui.notifier import failure_note
from tests.gui.conftest import MakeWindow
from tests.gui.test_jobs_model import make_job
from tests.support.http_server import TestServer, payload

pytestmark = pytest.mark.timeout(60)

NOT_FOUND = "server answered HTTP 404 Not Found"
UNAVAILABLE = "server answered HTTP 503 Service Unavailable"


def failed_rows(window: MainWindow) -> list[list[str]]:
    """The Failed view's cells as the person reads them, row by row."""
    model = window.failed.model
    return [[str(model.index(row, column).data()) for column in FailedColumn]
            for row in range(model.rowCount())]


def table_text(window: MainWindow, url: str, column: Column) -> str:
    row = next(row for row, job in enumerate(window.model.jobs()) if job.url == url)
    return str(window.model.index(row, column).data(Qt.ItemDataRole.DisplayRole))


def failed_tab_text(window: MainWindow) -> str:
    return window.bottom_tabs.tabText(window.bottom_tabs.indexOf(window.failed))


def click(qtbot, button) -> None:  # type: ignore[no-untyped-def]
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.fixture
def stored_window(make_window: MakeWindow) -> MainWindow:
    """A window that keeps its queue (and so the error history) in this test's own store."""
    return make_window(data_dir=default_data_dir())


def test_downloads_that_fail_for_good_are_listed_with_their_error_history(  # type: ignore[no-untyped-def]
    qtbot, stored_window: MainWindow, http_server: TestServer,
) -> None:
    window = stored_window
    good = http_server.add("/good.bin", payload("good", 5000))
    missing = http_server.add("/missing.bin", b"gone", status=404)
    flaky = http_server.add("/flaky.bin", payload("flaky", 5000), status=503, retry_after="0")
    window.add_text("\n".join([good, missing, flaky]))
    assert window.failed.model.rowCount() == 0 and not window.failed.isVisible()
    window.start()
    qtbot.waitUntil(lambda: window.bridge.stats.finished == 3, timeout=30_000)
    qtbot.waitUntil(lambda: window.failed.model.rowCount() == 2)
    assert failed_rows(window) == [["missing.bin", "1", NOT_FOUND, missing],
                                   ["flaky.bin", "5", UNAVAILABLE, flaky]]
    assert table_text(window, flaky, Column.ATTEMPTS) == "5/5"
    assert table_text(window, flaky, Column.NEXT_TRY) == ""
    assert table_text(window, good, Column.ATTEMPTS) == "1/5"
    assert failed_tab_text(window) == "Failed downloads (2)"
    assert window.commands.show_failed.iconText() == "Failed (2)"  # the toolbar button counts them

    window.commands.show_failed.trigger()
    qtbot.waitUntil(window.failed.isVisible)
    assert window.commands.show_failed.isChecked()
    window.failed.table.selectRow(1)
    history = window.failed.history
    qtbot.waitUntil(lambda: history.toPlainText().count("attempt") == 5, timeout=5_000)
    lines = history.toPlainText().splitlines()
    assert lines[:3] == ["flaky.bin", flaky, ""]
    attempts = [line.split("  ", 1)[1] for line in lines[3:]]  # after the time of each
    assert attempts == [f"attempt {n}: {UNAVAILABLE}" for n in range(1, 6)]
    window.failed.table.selectRow(0)
    qtbot.waitUntil(lambda: history.toPlainText().endswith(f"attempt 1: {NOT_FOUND}"), timeout=5_000)
    assert history.toPlainText().count("attempt") == 1
    window.commands.show_failed.trigger()
    qtbot.waitUntil(lambda: not window.failed.isVisible())
    assert window.messages.isVisible()


def test_retry_runs_a_failed_download_again_until_it_is_done(  # type: ignore[no-untyped-def]
    qtbot, stored_window: MainWindow, http_server: TestServer, downloads: Path,
) -> None:
    window = stored_window
    data = payload("flaky", 20_000)
    flaky = http_server.add("/flaky.bin", data, status=503, retry_after="0")
    window.add_text(flaky)
    window.start()
    qtbot.waitUntil(lambda: window.failed.model.rowCount() == 1, timeout=30_000)
    assert table_text(window, flaky, Column.ATTEMPTS) == "5/5"
    assert not window.failed.retry_button.isEnabled()  # nothing selected yet
    http_server.add("/flaky.bin", data)  # the fault is gone
    window.failed.table.selectRow(0)
    click(qtbot, window.failed.retry_button)
    qtbot.waitUntil(lambda: window.model.jobs()[0].state is JobState.DONE, timeout=30_000)
    qtbot.waitUntil(lambda: window.failed.model.rowCount() == 0)
    assert (downloads / "flaky.bin").read_bytes() == data
    assert table_text(window, flaky, Column.STATE) == "done"
    assert table_text(window, flaky, Column.ATTEMPTS) == "1/5"  # a retry starts counting afresh
    assert any(m.text == "Queued 1 failed download again" for m in window.messages.messages())
    assert failed_tab_text(window) == "Failed downloads"


def test_mark_resolved_export_and_retry_all(  # type: ignore[no-untyped-def]
    qtbot, stored_window: MainWindow, http_server: TestServer, downloads: Path, tmp_path: Path,
) -> None:
    window = stored_window
    urls = [http_server.add(f"/missing-{n}.bin", b"", status=404) for n in range(3)]
    window.add_text("\n".join(urls))
    window.start()
    qtbot.waitUntil(lambda: window.failed.model.rowCount() == 3, timeout=30_000)

    exported = tmp_path / "failed.txt"
    window.failed.export_to(str(exported))
    said = f"Exported 3 URLs to {exported}"
    qtbot.waitUntil(lambda: any(m.text == said for m in window.messages.messages()), timeout=5_000)
    assert exported.read_text(encoding="utf-8") == "".join(f"{url}\n" for url in urls)

    window.failed.table.selectRow(1)
    click(qtbot, window.failed.resolve_button)
    qtbot.waitUntil(lambda: [row[3] for row in failed_rows(window)] == [urls[0], urls[2]], timeout=5_000)
    assert table_text(window, urls[1], Column.STATE) == "failed"  # still in the downloads table, as failed

    for n in (0, 2):  # the fault is gone
        http_server.add(f"/missing-{n}.bin", payload(f"back-{n}", 3000))
    click(qtbot, window.failed.retry_all_button)
    qtbot.waitUntil(lambda: [j.state for j in window.model.jobs()]
                    == [JobState.DONE, JobState.FAILED, JobState.DONE], timeout=30_000)
    qtbot.waitUntil(lambda: window.failed.model.rowCount() == 0)
    assert sorted(p.name for p in downloads.iterdir()) == ["missing-0.bin", "missing-2.bin"]
    assert not window.failed.retry_all_button.isEnabled() and not window.failed.export_button.isEnabled()


def test_failure_and_end_of_run_are_notified_in_the_status_bar(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, http_server: TestServer,
) -> None:
    assert not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen: the status bar stands in for the tray
    missing = http_server.add("/missing.bin", b"", status=404)
    window.add_text(missing)
    window.start()
    expected = (f"Download failed: missing.bin — {NOT_FOUND} · Run finished: 0 done, 1 failed, 0 B in 0:0")
    qtbot.waitUntil(lambda: window.status.currentMessage().startswith(expected), timeout=20_000)
    assert window.status.currentMessage().endswith("(Thread pool)")


def test_the_failed_model_follows_the_table_in_place(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = FailedModel()
    jobs = [make_job(n, JobState.FAILED, error=f"error {n}", attempts=n) for n in range(1, 5)]
    model.sync([jobs[0], jobs[2]])
    qtmodeltester.check(model, force_py=True)

    def names() -> list[str]:
        return [model.index(row, FailedColumn.NAME).data() for row in range(model.rowCount())]

    assert names() == ["file-1.bin", "file-3.bin"]
    model.sync(jobs)
    assert names() == ["file-1.bin", "file-2.bin", "file-3.bin", "file-4.bin"]
    assert model.index(1, FailedColumn.ERROR).data() == "error 2"
    model.sync([jobs[1], jobs[3]])
    assert names() == ["file-2.bin", "file-4.bin"]
    assert model.index(1, FailedColumn.ATTEMPTS).data() == "4"
    qtmodeltester.check(model, force_py=True)


def test_several_failures_make_one_notice() -> None:
    jobs = [make_job(n, JobState.FAILED, error="server answered HTTP 410 Gone") for n in range(1, 6)]
    assert failure_note(jobs[:1]) == ("Download failed", "file-1.bin — server answered HTTP 410 Gone")
    assert failure_note(jobs) == ("5 downloads failed", "file-1.bin, file-2.bin, file-3.bin and 2 more")
