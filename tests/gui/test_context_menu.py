"""The context menu as (label, callable) pairs: what it offers per state, and cancel, retry, remove."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication

from engine.jobs import JobState
from gui.main_window import MainWindow
from tests.gui.conftest import rows_shown, serve_files
from tests.support.http_server import TestServer

pytestmark = pytest.mark.timeout(60)


def labels(window: MainWindow, job_id: int) -> list[str]:
    job = window.model.job(job_id)
    assert job is not None
    return [label for label, _ in window.view.context_entries([job])]


def run_entry(window: MainWindow, job_id: int, label: str) -> None:
    job = window.model.job(job_id)
    assert job is not None
    entries = dict(window.view.context_entries([job]))
    entries[label]()


def test_cancel_from_the_context_menu(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, http_server: TestServer, downloads: Path,
) -> None:
    files = serve_files(http_server, 2, size=400_000, rate=100_000)
    window.add_text("\n".join(files))
    window.start()
    first = rows_shown(qtbot, window, 2)[0].id
    qtbot.waitUntil(lambda: window.model.job(first).state is JobState.RUNNING  # type: ignore[union-attr]
                    and window.model.job(first).bytes_done > 0, timeout=10_000)  # type: ignore[union-attr]
    window.view.select_job(first)
    assert [j.id for j in window.view.selected_jobs()] == [first]
    assert window.view.context_entries()[0][0] == "Open folder"  # the selection is the default
    assert labels(window, first) == ["Open folder", "Copy URL", "Pause", "Cancel", "Remove"]
    run_entry(window, first, "Cancel")
    qtbot.waitUntil(lambda: window.model.job(first).state is JobState.CANCELLED,  # type: ignore[union-attr]
                    timeout=10_000)
    assert labels(window, first) == ["Open folder", "Copy URL", "Retry", "Remove"]
    assert window.model.jobs()[1].state is JobState.RUNNING  # the other one goes on
    assert not [p.name for p in downloads.iterdir() if p.name.startswith("file-0")]  # no partial file left


def test_pause_resume_retry_remove_and_copy(qtbot, window: MainWindow, http_server: TestServer) -> None:  # type: ignore[no-untyped-def]
    slow = serve_files(http_server, 1, size=400_000, rate=100_000, prefix="slow")
    quick = serve_files(http_server, 1, size=1000, prefix="quick")
    window.add_text("\n".join([*slow, *quick]))
    window.start()
    slow_id, quick_id = (j.id for j in rows_shown(qtbot, window, 2))
    qtbot.waitUntil(lambda: window.model.job(quick_id).state is JobState.DONE, timeout=10_000)  # type: ignore[union-attr]
    assert labels(window, quick_id) == ["Open file", "Open folder", "Copy URL", "Remove"]
    run_entry(window, slow_id, "Pause")
    qtbot.waitUntil(lambda: window.model.job(slow_id).state is JobState.PAUSED, timeout=10_000)  # type: ignore[union-attr]
    assert "Resume" in labels(window, slow_id)
    run_entry(window, slow_id, "Resume")
    qtbot.waitUntil(lambda: window.model.job(slow_id).state in (JobState.QUEUED, JobState.RUNNING),  # type: ignore[union-attr]
                    timeout=10_000)
    run_entry(window, slow_id, "Copy URL")
    assert QGuiApplication.clipboard().text() == next(iter(slow))
    run_entry(window, quick_id, "Remove")
    qtbot.waitUntil(lambda: window.model.row_of(quick_id) is None, timeout=5_000)
    assert [j.id for j in window.model.jobs()] == [slow_id]
