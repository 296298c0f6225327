"""Whole runs in the window: every mode ends with every row done and every file byte-identical."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine import protocol
from engine.jobs import Job, JobState
from engine.modes import MODES
from engine.protocol import SessionStats
from gui.bridge import no_stats
from tests.gui.conftest import MakeWindow, all_done, rows_shown, serve_files
from tests.support.http_server import TestServer, payload

FILES = 6


@pytest.mark.timeout(90)
@pytest.mark.parametrize("mode", list(MODES))
def test_a_run_in_each_mode_downloads_every_file_intact(
    qtbot, make_window: MakeWindow, http_server: TestServer, downloads: Path, mode: str,  # type: ignore[no-untyped-def]
) -> None:
    files = serve_files(http_server, FILES, prefix=mode)
    window = make_window(mode, workers=2)
    assert window.engine.mode == mode
    window.add_text("\n".join(files))
    rows_shown(qtbot, window, FILES)
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: all_done(window, FILES), timeout=60_000)
    for job in window.model.jobs():
        assert job.path is not None and Path(job.path).parent == downloads
        assert Path(job.path).read_bytes() == files[job.url], job.url
    assert sorted(p.name for p in downloads.iterdir()) == sorted(f"{mode}-{i}.bin" for i in range(FILES))
    qtbot.waitUntil(lambda: window.status.counts.text() == f"{FILES} done · 0 failed · {FILES} total")
    qtbot.waitUntil(lambda: any(m.text.startswith(f"Run finished: {FILES} done, 0 failed")
                                for m in window.messages.messages()))
    progress = window.view.model().index(0, 3).data(Qt.ItemDataRole.DisplayRole)
    assert progress == "100%"


@pytest.mark.timeout(60)
def test_failed_download_shows_its_error_and_can_be_retried(
    qtbot, window, http_server: TestServer,  # type: ignore[no-untyped-def]
) -> None:
    url = http_server.add("/missing.bin", b"x", status=404)
    window.add_text(url)
    window.start()
    qtbot.waitUntil(lambda: window.bridge.stats.failed == 1, timeout=20_000)
    job = window.model.jobs()[0]
    tooltip = window.model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "HTTP 404" in tooltip and job.error and "404" in job.error
    qtbot.waitUntil(lambda: any(m.level == "error" and "404" in m.text for m in window.messages.messages()))
    assert "404" in window.status.currentMessage() or window.messages.messages()
    assert window.commands.retry_failed.isEnabled()


def test_each_run_is_summed_up_on_its_own(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, http_server: TestServer,
) -> None:
    window = make_window("thread-pool", 2)
    first, second = (list(serve_files(http_server, 1, size=10_000, prefix=p)) for p in ("one", "two"))

    def summaries() -> list[str]:
        return [m.text for m in window.messages.messages() if m.text.startswith("Run finished")]

    window.add_text(first[0])
    window.start()
    qtbot.waitUntil(lambda: len(summaries()) == 1, timeout=20_000)
    window.add_text(second[0])
    window.start()
    qtbot.waitUntil(lambda: len(summaries()) == 2, timeout=20_000)
    assert all(text.startswith("Run finished: 1 done, 0 failed") for text in summaries()), summaries()


def test_a_snapshot_sent_before_start_was_carried_out_does_not_end_the_run(  # type: ignore[no-untyped-def]
    qtbot, window,
) -> None:
    """The engine's pictures cross the Start on the pipe: one that does not show Start yet (no job, say)
    must not count as the run's end, or a run over by the next picture is never summed up."""
    window.start()
    start = window.engine.sent
    nothing = no_stats("thread-pool", 4)
    failed = Job("http://h/a.bin", "/d", id=1, state=JobState.FAILED, error="boom")
    over = replace(nothing, total=1, failed=1)
    window.engine.snapshot.emit(protocol.Snapshot(1, (), (), nothing, None, start - 1))  # sent before Start
    window.engine.snapshot.emit(protocol.Snapshot(2, (failed,), (), over, None, start))  # the whole run
    summaries = [m.text for m in window.messages.messages() if m.text.startswith("Run finished")]
    assert len(summaries) == 1 and summaries[0].startswith("Run finished: 0 done, 1 failed"), summaries


@pytest.mark.timeout(90)
def test_no_speed_shown_is_above_what_a_throttled_server_sends(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, http_server: TestServer,
) -> None:
    cap = 192 * 1024  # bytes per second per connection
    urls = [http_server.add(f"/cap{i}.bin", payload(f"cap{i}", 4 * cap), rate=cap) for i in range(30)]
    window = make_window("threads")
    shown: list[tuple[float, float, int]] = []  # (fastest row, total, running) at every refresh

    def record(stats: SessionStats) -> None:
        rows = [job.speed for job in window.model.jobs() if job.state is JobState.RUNNING]
        shown.append((max(rows, default=0.0), stats.speed, stats.running))

    window.bridge.stats_changed.connect(record)
    window.add_text("\n".join(urls))
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: all_done(window, 30), timeout=60_000)
    assert max(total for _, total, _ in shown) > 5 * cap  # the downloads did run side by side
    assert max(fastest for fastest, _, _ in shown) <= 1.2 * cap
    assert all(total <= 1.2 * cap * running for _, total, running in shown)
