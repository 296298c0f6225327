"""Renders the window mid-run at 1280x800 against a local, throttled test server and saves it as a PNG."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QBuffer, QByteArray, QEventLoop, QIODevice, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter

from engine.jobs import JobState
from engine.modes import MODES
from engine.pipeline import PIPELINE, download_mode
from engine.workers import stop_process_helpers
from gui.app import app_icon, create_app
from gui.main_window import MainWindow
from tests.support.offscreen import PLATFORM

if TYPE_CHECKING:
    from tests.support.http_server import TestServer

SIZE = (1280, 800)
RUN_SECONDS = 14.0
PICTURES = ("harbour-at-dawn", "alpine-lake", "city-lights", "forest-trail", "desert-dunes", "northern-sky")
BIG_FILES = (("lecture-01.mp4", 24), ("lecture-02.mp4", 22), ("survey-2024.csv.gz", 12),
             ("maps-europe.tar", 30), ("backup-2024-06.tar.zst", 26), ("sensor-log.parquet", 16),
             ("lecture-03.mp4", 20), ("firmware-3.2.bin", 9), ("photos-archive.zip", 28),
             ("lecture-04.mp4", 18))
SMALL_FILES = ("readme.pdf", "invoice-0042.pdf", "notes.txt")


def picture(index: int) -> bytes:
    """A small colourful PNG landscape, so thumbnails and the preview have something to show."""
    image = QImage(640, 420, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    gradient = QLinearGradient(QPointF(0, 0), QPointF(0, 420))
    gradient.setColorAt(0, QColor.fromHsv((index * 47 + 190) % 360, 120, 250))
    gradient.setColorAt(1, QColor.fromHsv((index * 47 + 230) % 360, 200, 110))
    painter.fillRect(image.rect(), gradient)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(255, 236, 180, 220))
    painter.drawEllipse(QPointF(430 - index * 30, 130), 55, 55)
    painter.setBrush(QColor.fromHsv((index * 47 + 120) % 360, 140, 70))
    painter.drawPolygon([QPointF(0, 420), QPointF(180, 230 + index * 8), QPointF(330, 330), QPointF(470, 210),
                         QPointF(640, 320), QPointF(640, 420)])
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stubs want bytes, the binding str
    return bytes(data.data())


def few_colours(image: QImage) -> QImage:
    """The image with its 256 most used colours: a window is mostly flat colour, so the PNG shrinks a lot."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB32)
    counts = Counter(memoryview(bytes(rgb.constBits())).cast("I"))
    table = [colour for colour, _ in counts.most_common(192)]
    # rare hues (an icon's yellow, a chart's amber) would otherwise fall to the nearest grey: give each
    # coarse colour region that is still missing its most used colour
    regions: Counter[int] = Counter()
    best: dict[int, int] = {}
    for colour, count in counts.most_common()[192:]:
        region = (colour >> 21 & 0b111) << 6 | (colour >> 13 & 0b111) << 3 | (colour >> 5 & 0b111)
        regions[region] += count
        best.setdefault(region, colour)
    table += [best[region] for region, _ in regions.most_common(256 - len(table))]
    table = [colour | 0xFF000000 for colour in table]
    return rgb.convertToFormat(QImage.Format.Format_Indexed8, table, Qt.ImageConversionFlag.ThresholdDither)


def wait(seconds: float) -> None:
    """Run the event loop for a while."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


@contextmanager
def demo_window(mode: str, workers: int | None) -> Iterator[tuple[MainWindow, TestServer]]:
    """A shown 1280x800 window with throwaway settings and folder, and a local test server; on leaving,
    the window is closed (its workers stopped) and the server too."""
    os.environ["QT_QPA_PLATFORM"] = PLATFORM  # read when the QApplication is created, just below
    from tests.support.http_server import TestServer  # the checkout's test server: local, throttled

    app = create_app([sys.argv[0]])
    server = TestServer().start()
    with tempfile.TemporaryDirectory(prefix="parafetch-demo-") as folder:
        settings = QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, mode=mode, workers=workers)
        window.setWindowIcon(app_icon())
        window.confirm_close = False
        window.input.set_folder(str(Path(folder) / "Downloads"))
        window.resize(*SIZE)
        window.show()
        try:
            yield window, server
        finally:
            window.close()
            for _ in range(300):
                if window.is_shut_down:
                    break
                wait(0.1)
            server.stop()
            stop_process_helpers()
    app.processEvents()


def save_png(image: QImage, path: str) -> bool:
    """Save a grabbed widget as a small PNG (few colours, best compression); says so when it cannot."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if few_colours(image).save(path, "PNG", 0):  # type: ignore[call-overload]  # 0: the smallest file
        return True
    print(f"parafetch: could not save {path}", file=sys.stderr)
    return False


def take_screenshot(path: str, mode: str = "thread-pool", workers: int | None = None,
                    seconds: float = RUN_SECONDS) -> int:
    """Run a demo list in `mode` for a few seconds, save the window as PNG at `path`; returns 0 on success."""
    pool = 4 if MODES[download_mode(mode)].resizable else None
    with demo_window(mode, workers or pool) as (window, server):
        lines = [server.add(f"/photos/{name}.png", picture(i)) for i, name in enumerate(PICTURES)]
        lines += [server.url(f"/gen/{180_000 + 9_000 * i}/{name}") for i, name in enumerate(SMALL_FILES)]
        for i, (name, mib) in enumerate(BIG_FILES):  # generated as they are sent: the server holds no copies
            lines.append(server.url(f"/gen/{mib << 20}/{name}", rate=(260 + 90 * (i % 5)) << 10))
        lines.insert(8, server.add("/files/old-release.iso", b"", status=404))
        lines.append("ftp://mirror.example.org/pub/old.tar  # not http")
        window.add_text("\n".join(lines))
        window.start()
        wait(seconds / 2)
        waiting = [j for j in window.model.jobs() if j.state is JobState.QUEUED]
        if waiting:
            window.engine.pause(waiting[-1].id)  # show a paused row too
        wait(seconds / 2)
        pictures = [j for j in window.model.jobs() if window.thumbnails.is_image(j)]
        if pictures:
            window.view.select_job(pictures[0].id)
        wait(0.6)
        if not save_png(window.grab().toImage(), path):
            return 1
    print(f"{path}: {SIZE[0]}x{SIZE[1]}, {os.path.getsize(path) // 1024} KiB, {mode}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.screenshots", description=__doc__)
    parser.add_argument("file", help="PNG file to write")
    parser.add_argument("--mode", default="thread-pool", choices=[*MODES, PIPELINE], help="mode to run")
    parser.add_argument("--workers", type=int, help="pool size (default: 4)")
    parser.add_argument("--seconds", type=float, default=RUN_SECONDS, help="seconds to run before taking it")
    args = parser.parse_args(argv)
    return take_screenshot(args.file, args.mode, args.workers, args.seconds)


if __name__ == "__main__":
    sys.exit(main())
