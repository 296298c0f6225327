"""The Compare view, the probe's suggestion and the pipeline mode in the window, against the local server."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import os
from pathlib import Path

import psutil
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from engine.compare_cli import CSV_COLUMNS
from engine.modes import MODES
from engine.monitor import MonitorSample
from engine.pipeline import PIPELINE
from engine.recommend import recommend
from gui.compare_model import FASTEST_COLOUR
from gui.compare_view import CompareDialog
from gui.input_panel import NO_SUGGESTION
from gui.main_window import MainWindow
from tests.gui.conftest import MakeWindow, all_done, rows_shown, serve_files
from tests.support.http_server import TestServer, payload

pytestmark = pytest.mark.timeout(60)
THREAD_MODES = [m for m in MODES if not MODES[m].uses_processes]
MODES_RUN = ["sequential", "thread-pool", "process-pool"]


def latency_list(server: TestServer, files: int = 20, latency: float = 0.1) -> list[str]:
    """Small files that each make the server wait `latency` seconds: a waiting-bound list."""
    return [server.add(f"/wait-{i:02d}.bin", payload(f"w{i}", 8 * 1024), latency=latency)
            for i in range(files)]


def open_compare(window: MainWindow, modes: list[str], workers: int = 4) -> CompareDialog:
    window.compare.action.trigger()  # Tools ▸ Compare modes…
    dialog = window.compare.dialog
    assert dialog is not None and dialog.isVisible()
    for mode, check in dialog.mode_checks.items():
        check.setChecked(mode in modes)
    dialog.workers_box.setValue(workers)
    return dialog


def test_a_comparison_fills_the_table_and_charts_mode_by_mode_and_recommends_threads(
    qtbot, make_window: MakeWindow, http_server: TestServer, tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    window = make_window()
    window.add_text("\n".join(latency_list(http_server)))  # in the list, not started
    rows_shown(qtbot, window, 20)
    dialog = open_compare(window, MODES_RUN)
    assert dialog.source.text() == "20 URLs from the window"
    assert [m for m, c in dialog.mode_checks.items() if not c.isEnabled()] == []
    shown: list[tuple[int, int]] = []
    dialog.runner.mode_finished.connect(lambda run: shown.append((dialog.model.rowCount(),
                                                                   len(dialog.charts.runs))))
    assert dialog.run()
    assert not dialog.run_button.isEnabled() and dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=50_000)
    assert dialog.report is not None and not dialog.report.cancelled
    assert shown == [(1, 1), (2, 2), (3, 3)], "each mode's row and bars appear as it finishes"
    model = dialog.model
    assert [run.mode for run in model.runs] == MODES_RUN
    assert all(run.failed == 0 and run.files == 20 for run in model.runs)
    fastest = model.fastest_row()
    assert fastest is not None and model.runs[fastest].elapsed_s == min(r.elapsed_s for r in model.runs)
    for row in range(model.rowCount()):
        background = model.index(row, 0).data(Qt.ItemDataRole.BackgroundRole)
        assert (background == FASTEST_COLOUR) == (row == fastest)
    assert model.index(fastest, 0).data(Qt.ItemDataRole.FontRole).bold()
    advice = recommend(dialog.report)
    assert advice.mode in THREAD_MODES and advice.mode != "sequential", advice
    text = dialog.recommendation.text()
    assert text.startswith(f"<b>Recommended: {MODES[advice.mode].label.lower()} with "), text
    assert "waiting" in advice.reason and html.escape(advice.reason) in text
    assert dialog.csv_button.isEnabled() and dialog.png_button.isEnabled()

    csv_path = tmp_path / "comparison.csv"
    dialog.save_csv(str(csv_path))
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["mode"] for row in rows] == MODES_RUN
    assert all(list(row) == list(CSV_COLUMNS) and all(row[c] != "" for c in CSV_COLUMNS) for row in rows)

    png_path = tmp_path / "charts.png"
    assert dialog.save_png(str(png_path))
    image = QImage(str(png_path))
    assert not image.isNull()
    assert (image.width(), image.height()) == (dialog.charts.width(), dialog.charts.height())
    assert image.width() >= 600 and image.height() >= 150 and png_path.stat().st_size > 5_000


def test_cancel_stops_the_comparison_and_leaves_no_child_process(
    qtbot, make_window: MakeWindow, http_server: TestServer,  # type: ignore[no-untyped-def]
) -> None:
    # Four 2 MB files at 256 KB/s: about 8 s each, far longer than the test waits before cancelling.
    urls = [http_server.add(f"/slow-{i}.bin", payload(f"s{i}", 2_000_000), rate=256_000) for i in range(4)]
    window = make_window()
    window.add_text("\n".join(urls))
    rows_shown(qtbot, window, 4)
    dialog = open_compare(window, ["processes", "process-pool"], workers=2)
    busy: list[MonitorSample] = []
    dialog.runner.sampled.connect(lambda mode, sample: busy.append(sample) if sample.processes >= 3 else None)
    assert dialog.run()
    comparison = dialog.runner.pid
    qtbot.waitUntil(lambda: bool(busy), timeout=30_000)  # worker processes are downloading
    assert busy[-1].per_process[0].pid == comparison != os.getpid()  # it measures itself, not the window
    assert "Running Processes (one per URL) (1 of 2)" in dialog.progress.text()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=30_000)
    assert dialog.report is not None and dialog.report.cancelled and dialog.report.runs == ()
    assert dialog.model.rowCount() == 0 and dialog.run_button.isEnabled()
    assert dialog.progress.text().startswith("Cancelled after 0 of 2 modes")
    assert "No recommendation" in dialog.recommendation.text()
    started = {p.pid for sample in busy for p in sample.per_process}  # the comparison and its workers
    assert len(started) >= 3
    gone = [pid for pid in started if not psutil.pid_exists(pid)
            or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE]
    assert sorted(gone) == sorted(started)


def test_a_probe_suggests_a_mode_after_urls_are_added_and_stays_quiet_when_nothing_answers(
    qtbot, make_window: MakeWindow, http_server: TestServer,  # type: ignore[no-untyped-def]
) -> None:
    window = make_window()
    suggestion = window.input.suggestion
    assert suggestion.text() == NO_SUGGESTION and not suggestion.isEnabled()
    window.add_text("\n".join(latency_list(http_server, files=32)))
    qtbot.waitUntil(suggestion.isEnabled, timeout=20_000)
    text = suggestion.text()
    assert text.startswith("Suggested: thread pool × 32 — the sample waits "), text
    assert text.endswith("ms per file and moves little data"), text
    assert int(text.split("waits ")[1].split(" ms")[0]) >= 100
    assert "overlaps the waiting" in suggestion.toolTip()

    quiet = make_window()
    quiet.add_text("http://127.0.0.1:9/nothing-listens-here.bin")
    qtbot.waitUntil(lambda: quiet.suggester.last is None and not quiet.suggester.busy
                    and "No suggestion" in quiet.input.mode_box.toolTip(), timeout=20_000)
    assert not quiet.input.suggestion.isEnabled() and quiet.input.suggestion.text() == NO_SUGGESTION


def test_the_pipeline_mode_downloads_in_threads_and_checks_every_file_in_processes(
    qtbot, make_window: MakeWindow, http_server: TestServer, downloads: Path,  # type: ignore[no-untyped-def]
) -> None:
    files = serve_files(http_server, 6, prefix="pipe")
    window = make_window("thread-pool", workers=2)
    labels = [window.input.mode_box.itemText(i) for i in range(window.input.mode_box.count())]
    assert labels[-1] == "Pipeline (thread pool + process pool)"
    window.input.set_mode(PIPELINE)
    assert window.pipeline.enabled and window.engine.mode == "thread-pool"
    assert window.input.workers_box.isEnabled()
    window.add_text("\n".join(files))
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: all_done(window, 6) and len(window.pipeline.results) == 6, timeout=50_000)
    for job in window.model.jobs():
        assert job.path is not None and Path(job.path).read_bytes() == files[job.url], job.url
    results = {Path(r.path).name: r for r in window.pipeline.results}
    assert sorted(results) == sorted(f"pipe-{i}.bin" for i in range(6))
    for name, result in results.items():
        assert result.verified and result.error is None, result
        assert result.sha256 == hashlib.sha256((downloads / name).read_bytes()).hexdigest()
    stage = window.bridge.stats.stage  # the engine host's stage: its processes are the host's children
    engine_children = {p.pid for p in psutil.Process(window.engine.pid).children(recursive=True)}
    assert stage is not None and stage.pids and stage.pids <= engine_children
    assert window.thumbnails.image(window.model.jobs()[0].id) is None  # no images in this list
    qtbot.waitUntil(lambda: any(m.text.startswith("Pipeline: 6 of 6 files verified (SHA-256)")
                                for m in window.messages.messages()))
    window.input.set_mode("thread-pool")
    assert not window.pipeline.enabled
    qtbot.waitUntil(lambda: window.bridge.stats.stage is None, timeout=5_000)


def test_compare_waits_until_the_windows_worker_processes_are_gone(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, http_server: TestServer,
) -> None:
    window = make_window("process-pool", 2)
    window.add_text("\n".join(serve_files(http_server, 2, size=20_000)))
    window.start()
    qtbot.waitUntil(lambda: all_done(window, 2), timeout=30_000)
    workers = window.bridge.stats.worker_pids
    assert workers  # the pool's processes stay up, idle, after the run
    dialog = window.compare.open()
    assert not dialog.run()
    assert "worker processes" in dialog.progress.text()
    assert all(psutil.pid_exists(pid) for pid in workers)  # nothing of the window's was stopped


def test_the_pipelines_thumbnails_are_the_ones_the_window_shows(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, http_server: TestServer,
) -> None:
    photo = io.BytesIO()
    Image.new("RGB", (480, 240), (10, 120, 200)).save(photo, "JPEG")
    window = make_window(PIPELINE)
    window.add_text(http_server.add("/sky.jpg", photo.getvalue()))
    window.start()
    qtbot.waitUntil(lambda: len(window.pipeline.results) == 1, timeout=30_000)
    (result,) = window.pipeline.results
    assert result.verified and result.thumbnail is not None
    assert (result.thumbnail.width, result.thumbnail.height) == (240, 120)
    image = window.thumbnails.image(result.job_id)  # offered by the stage: the window decoded nothing itself
    assert image is not None and (image.width(), image.height()) == (240, 120)
    colour = image.pixelColor(120, 60)
    assert abs(colour.red() - 10) < 8 and abs(colour.green() - 120) < 8 and abs(colour.blue() - 200) < 8


def test_urls_with_a_login_are_compared_with_it(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, http_server: TestServer, tmp_path: Path,
) -> None:
    body = payload("private", 30_000)
    url = http_server.add("/private.bin", body, auth="alice:s3cret")
    window = make_window()
    window.add_text(url.replace("://", "://alice:s3cret@", 1))  # the list shows it without the login
    rows_shown(qtbot, window, 1)
    assert window.model.jobs()[0].credentials is None  # the window's copy never holds the password
    dialog = open_compare(window, ["sequential", "thread-pool"], workers=2)
    qtbot.waitUntil(lambda: [e.credentials for e in dialog.entries] == ["alice:s3cret"])
    assert dialog.run()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=30_000)
    assert [(run.mode, run.files, run.failed) for run in dialog.model.runs] == [
        ("sequential", 1, 0), ("thread-pool", 1, 0)]
