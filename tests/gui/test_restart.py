"""A restart keeps the queue: 500 jobs with mixed priorities come back in the same order, not started."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.jobs import JobState
from engine.store import default_data_dir
from gui.jobs_model import Column
from gui.main_window import MainWindow
from tests.gui.conftest import MakeWindow, column_texts, rows_shown, select_rows, shut_down
from tests.support.http_server import TestServer

pytestmark = pytest.mark.timeout(90)

JOBS = 500


def table(window: MainWindow) -> list[tuple[str, str, str]]:
    """(name, priority, state) of every row, as the person sees them."""
    return list(zip(column_texts(window, Column.NAME), column_texts(window, Column.PRIORITY),
                    column_texts(window, Column.STATE), strict=True))


def shift(qtbot, window: MainWindow, rows: list[int], step: int, wanted: list[int]) -> None:  # type: ignore[no-untyped-def]
    """Raise or lower these rows once through the window's command, and wait until the table shows it."""
    select_rows(window, rows)
    (window.commands.raise_priority if step > 0 else window.commands.lower_priority).trigger()
    for row in rows:
        wanted[row] += step
    texts = [f"{p:+d}" if p else "0" for p in wanted]
    qtbot.waitUntil(lambda: column_texts(window, Column.PRIORITY) == texts, timeout=10_000)


def test_500_jobs_with_mixed_priorities_come_back_after_a_restart(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, http_server: TestServer, downloads: Path,
) -> None:
    urls = [http_server.url(f"/gen/1000/file-{n:03d}.bin") for n in range(JOBS)]
    first = make_window(data_dir=default_data_dir())
    first.add_text("\n".join(urls))
    rows_shown(qtbot, first, JOBS)
    wanted = [0] * JOBS
    shift(qtbot, first, list(range(0, JOBS, 3)), 1, wanted)
    shift(qtbot, first, list(range(0, JOBS, 7)), 1, wanted)
    shift(qtbot, first, list(range(1, JOBS, 5)), -1, wanted)
    assert sorted(set(wanted)) == [-1, 0, 1, 2]
    before = table(first)
    assert [name for name, _, _ in before] == [f"file-{n:03d}.bin" for n in range(JOBS)]
    shut_down(qtbot, first)

    second = make_window(data_dir=default_data_dir())
    qtbot.waitUntil(lambda: second.model.rowCount() == JOBS, timeout=10_000)
    assert table(second) == before
    assert [job.url for job in second.model.jobs()] == urls
    assert [job.priority for job in second.model.jobs()] == wanted
    assert all(job.state is JobState.QUEUED for job in second.model.jobs())
    assert not second.bridge.started
    assert not any(downloads.iterdir())  # nothing was downloaded, not even in part


def test_failures_of_an_earlier_run_come_back_in_the_failed_list_without_new_alarms(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, http_server: TestServer,
) -> None:
    good = http_server.url("/gen/2000/good.bin")
    missing = http_server.add("/missing.bin", b"gone", status=404)
    first = make_window(data_dir=default_data_dir())
    first.add_text(f"{good}\n{missing}")
    first.start()
    qtbot.waitUntil(lambda: first.bridge.stats.finished == 2, timeout=20_000)
    assert any(m.text.startswith("Failed: missing.bin") for m in first.messages.messages())
    shut_down(qtbot, first)

    second = make_window(data_dir=default_data_dir())
    qtbot.waitUntil(lambda: second.failed.model.rowCount() == 1, timeout=10_000)
    assert table(second) == [("good.bin", "0", "done"), ("missing.bin", "0", "failed")]
    assert not any(m.text.startswith("Failed:") for m in second.messages.messages())
