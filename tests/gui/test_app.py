"""Application-wide parts: exception hooks, remembered settings, image thumbnails, the None workaround."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QSettings, Qt, Signal
from PySide6.QtGui import QColor, QImage

import gui
from engine.jobs import JobState
from engine.ownership import FolderInUse, FolderLock
from gui.app import ExceptionHooks, app_icon, create_app
from gui.front_door import FrontDoor
from gui.jobs_model import Column
from gui.messages import MessageHub
from tests.gui.conftest import MakeWindow, all_done, rows_shown
from tests.support.http_server import TestServer, payload
from tests.support.offscreen import small_screen_platform

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def test_uncaught_exceptions_are_shown_and_the_app_goes_on(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    hooks = ExceptionHooks(window.hub).install()
    try:
        worker = threading.Thread(target=lambda: 1 / 0, name="doomed")
        worker.start()
        worker.join(5)
        try:
            raise ValueError("bad value in a slot")
        except ValueError:
            sys.excepthook(*sys.exc_info())
    finally:
        hooks.uninstall()
    qtbot.waitUntil(lambda: len([m for m in window.messages.messages() if m.level == "error"]) == 2)
    texts = [m.text for m in window.messages.messages()]
    assert "Internal error in thread doomed: ZeroDivisionError: division by zero" in texts
    assert "Internal error in the window: ValueError: bad value in a slot" in texts
    assert hooks.caught == 2 and window.isVisible()


def test_settings_are_remembered(qtbot, make_window: MakeWindow, settings: QSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = make_window("thread-pool", workers=4)
    first.input.set_mode("process-pool")
    assert first.engine.mode == "process-pool"
    first.input.workers_box.setValue(3)
    first.input.set_folder(str(tmp_path / "elsewhere"))
    first.main_splitter.setSizes([400, 200])
    with qtbot.waitSignal(first.shut_down, timeout=30_000):
        first.close()
    again = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    second = make_window(None, settings_=again, show=False, folder=False)
    assert second.engine.mode == "process-pool" and second.input.mode() == "process-pool"
    assert second.input.workers() == 3 and second.bridge.stats.workers == 3
    assert second.input.folder() == str(tmp_path / "elsewhere")
    assert second.state.settings.value("splitters/main-splitter") is not None


class Probe(QObject):
    ping = Signal()


def png_bytes(width: int, height: int) -> bytes:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("#2f7fd8"))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stubs want bytes, the binding str
    return bytes(data.data())


def test_finished_images_get_a_thumbnail_and_a_preview(  # type: ignore[no-untyped-def]
    qtbot, window, http_server: TestServer,
) -> None:
    url = http_server.add("/picture.png", png_bytes(640, 320))
    window.add_text(url)
    window.start()
    qtbot.waitUntil(lambda: all_done(window, 1), timeout=20_000)
    job = window.model.jobs()[0]
    qtbot.waitUntil(lambda: window.thumbnails.image(job.id) is not None, timeout=5_000)
    image = window.thumbnails.image(job.id)
    assert image is not None and image.width() == 240 and image.height() == 120
    icon = window.model.index(0, Column.NAME).data(Qt.ItemDataRole.DecorationRole)
    assert icon is not None and not icon.isNull()
    window.view.select_job(job.id)
    qtbot.waitUntil(window.preview.has_image, timeout=5_000)
    assert "picture.png" in window.preview.caption.text()


def test_app_setup_names_the_app_and_has_an_icon() -> None:
    app = create_app()
    assert app.applicationName() == "Parafetch" and not app_icon().isNull()
    assert ExceptionHooks(MessageHub()).caught == 0


def test_binding_bugs_no_longer_use_up_none_or_true() -> None:
    """PySide6 6.12.0 under-counts None and True; gui/compat.py must keep the app alive regardless."""
    probe = Probe()
    for _ in range(100_000):
        probe.setObjectName("x")  # a void call
        probe.ping.emit()
    assert sys.getrefcount(None) > 0 and sys.getrefcount(True) > 0
    assert isinstance(gui.SINGLETONS_PROTECTED, bool)


def test_with_a_store_the_queue_comes_back(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, downloads: Path, tmp_path: Path, http_server: TestServer,
) -> None:
    url = http_server.add("/kept.bin", b"k" * 5000)
    first = make_window(data_dir=tmp_path / "data")
    first.add_text(url)
    first.start()
    qtbot.waitUntil(lambda: all_done(first, 1), timeout=20_000)
    with qtbot.waitSignal(first.shut_down, timeout=30_000):
        first.close()
    second = make_window(data_dir=tmp_path / "data")
    qtbot.waitUntil(lambda: [(j.url, j.state) for j in second.model.jobs()] == [(url, JobState.DONE)])
    second.add_text(url)  # already there and done: skipped, not fetched again
    qtbot.waitUntil(lambda: "1 duplicate skipped" in second.messages.messages()[-1].text)
    assert len(second.model.jobs()) == 1


def test_the_preview_follows_the_selected_download_while_it_runs(  # type: ignore[no-untyped-def]
    qtbot, window, http_server: TestServer,
) -> None:
    url = http_server.add("/slow.bin", payload("slow", 300_000), rate=600_000)
    window.add_text(url)
    job = rows_shown(qtbot, window, 1)[0]
    window.view.select_job(job.id)
    assert "queued" in window.preview.caption.text()
    window.start()
    qtbot.waitUntil(lambda: "running" in window.preview.caption.text(), timeout=10_000)
    qtbot.waitUntil(lambda: "done, 293.0 KiB" in window.preview.caption.text(), timeout=20_000)


def test_the_pipeline_choice_is_remembered(qtbot, make_window: MakeWindow, settings: QSettings) -> None:  # type: ignore[no-untyped-def]
    from engine.pipeline import PIPELINE

    first = make_window("thread-pool", workers=4)
    first.input.set_mode(PIPELINE)
    assert first.pipeline.enabled and first.engine.mode == "thread-pool"
    with qtbot.waitSignal(first.shut_down, timeout=30_000):
        first.close()
    again = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    second = make_window(None, settings_=again, show=False, folder=False)
    assert second.input.mode() == PIPELINE and second.pipeline.enabled
    assert second.engine.mode == "thread-pool"


def _folder_taken(folder: Path) -> bool:
    if not folder.is_dir():  # the engine has yet to make it
        return False
    try:
        FolderLock(folder).release()
    except FolderInUse:
        return True
    return False


def test_a_second_parafetch_on_the_same_folder_brings_the_first_window_forward(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    window = make_window(data_dir=data)
    qtbot.waitUntil(lambda: _folder_taken(data), timeout=20_000)  # the window's engine owns the folder
    door = FrontDoor(data, window.bring_to_front, window)
    assert door.is_open
    window.showMinimized()
    qtbot.waitUntil(window.isMinimized)
    second = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "--data-dir", str(data)],
                              env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        qtbot.waitUntil(lambda: second.poll() is not None and not window.isMinimized(), timeout=30_000)
        _, errors = second.communicate(timeout=10)
    finally:
        second.kill()
    assert second.returncode == 0
    assert "brought to the front" in errors
    assert window.isVisible() and "already open on this data folder" in window.status.currentMessage()
    door.close()


def test_the_first_window_is_1280_by_800_where_that_fits(window) -> None:  # type: ignore[no-untyped-def]
    assert (window.width(), window.height()) == (1280, 800) and not window.isMaximized()


_OPEN_ONCE = """
import sys
from PySide6.QtCore import QSettings
from gui.app import create_app
from gui.main_window import MainWindow
app = create_app()
window = MainWindow(QSettings(sys.argv[1], QSettings.Format.IniFormat))
window.confirm_close = False
window.show()
app.processEvents()
screen, shown = app.primaryScreen().availableGeometry(), window.frameGeometry()
least = window.minimumSizeHint()
print(window.isMaximized(), screen.contains(shown), shown.width(), shown.height(),
      least.width(), least.height())
window.shut_down_now(10)
"""


def test_on_a_small_screen_the_first_window_opens_maximized_inside_it(tmp_path: Path) -> None:
    shown = subprocess.run(
        [sys.executable, "-c", _OPEN_ONCE, str(tmp_path / "settings.ini")], cwd=ROOT, timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": small_screen_platform(tmp_path, 1024, 640)},
        capture_output=True, text=True,
    )
    assert shown.returncode == 0, shown.stderr
    maximized, inside, width, height, least_width, least_height = shown.stdout.split()
    assert [maximized, inside, width, height] == ["True", "True", "1024", "640"]
    # Offscreen windows have no frame; on a desktop a title bar (22-30 px) comes above the window, so
    # the window's least size must leave room for one, or its status bar ends below the screen's edge.
    assert int(least_width) <= 1024 and int(least_height) <= 640 - 30, (least_width, least_height)
