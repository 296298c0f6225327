"""Renders the Compare view after a run over a local latency-bound list at 1280x800 and saves it as a PNG."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings

from engine.modes import MODES
from engine.pipeline import PIPELINE
from engine.workers import stop_process_helpers
from gui.app import app_icon, create_app
from gui.main_window import MainWindow
from gui.screenshot import SIZE, few_colours, wait

FILES = 24
LATENCY_S = 0.1
WORKERS = 8
RUN_LIMIT_S = 120.0


def take_compare_screenshot(path: str) -> int:
    """Compare every mode and the pipeline on 24 small files that each wait 100 ms; returns 0 on success."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # read when the QApplication is created, just below
    from tests.support.http_server import TestServer, payload  # the checkout's test server: local only

    app = create_app([sys.argv[0]])
    server = TestServer().start()
    urls = [server.add(f"/reports/day-{i:02d}.json", payload(f"r{i}", 48_000 + 997 * i), latency=LATENCY_S)
            for i in range(FILES)]
    with tempfile.TemporaryDirectory(prefix="parafetch-compare-") as folder:
        settings = QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, mode="thread-pool", workers=WORKERS)
        window.setWindowIcon(app_icon())
        window.confirm_close = False
        window.input.set_folder(str(Path(folder) / "Downloads"))
        window.show()
        try:
            window.add_text("\n".join(urls))
            dialog = window.compare.open()
            for mode in [*MODES, PIPELINE]:
                dialog.mode_checks[mode].setChecked(True)
            dialog.workers_box.setValue(WORKERS)
            dialog.resize(*SIZE)
            if not dialog.run():
                print(f"parafetch: the comparison did not start: {dialog.progress.text()}", file=sys.stderr)
                return 1
            for _ in range(int(RUN_LIMIT_S * 10)):
                if dialog.report is not None:
                    break
                wait(0.1)
            wait(0.3)
            image = few_colours(dialog.grab().toImage())
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            if dialog.report is None or not image.save(path, "PNG", 0):  # type: ignore[call-overload]
                print(f"parafetch: could not save {path}", file=sys.stderr)
                return 1
        finally:
            window.close()
            for _ in range(300):
                if window.is_shut_down:
                    break
                wait(0.1)
            server.stop()
            stop_process_helpers()
    print(f"{path}: {image.width()}x{image.height()}, {os.path.getsize(path) // 1024} KiB")
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(take_compare_screenshot(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot-compare.png"))
