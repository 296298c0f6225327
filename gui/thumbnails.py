"""Thumbnails of finished image downloads, scaled on a worker thread and cached for the table and preview."""

from __future__ import annotations

import os.path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QImageReader, QPixmap

from engine.jobs import Job, JobState

PREVIEW_SIZE = 240  # longest side of a cached thumbnail
ICON_SIZE = 22
MAX_CACHED = 400


def image_suffixes() -> frozenset[str]:
    """File suffixes Qt can read as images here (png, jpg, gif, ... as the plugins allow)."""
    return frozenset("." + bytes(fmt.data()).decode().lower() for fmt in QImageReader.supportedImageFormats())


class _Signals(QObject):
    loaded = Signal(int, QImage)  # job id, scaled image (null when the file is not a readable image)


class _LoadThumbnail(QRunnable):
    """Read and scale one image file, off the UI thread."""

    def __init__(self, job_id: int, path: str, signals: _Signals) -> None:
        super().__init__()
        self._job_id, self._path, self._signals = job_id, path, signals

    def run(self) -> None:
        reader = QImageReader(self._path)
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid() and max(size.width(), size.height()) > PREVIEW_SIZE:
            box = QSize(PREVIEW_SIZE, PREVIEW_SIZE)
            reader.setScaledSize(size.scaled(box, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        self._signals.loaded.emit(self._job_id, image)


class ThumbnailCache(QObject):
    """Loads thumbnails of finished images on demand; `ready(job_id)` says one has arrived."""

    ready = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._suffixes = image_suffixes()
        self._images: dict[int, QImage] = {}
        self._icons: dict[int, QIcon] = {}
        self._pending: set[int] = set()
        self._signals = _Signals(self)
        self._signals.loaded.connect(self._loaded)

    def is_image(self, job: Job) -> bool:
        if job.state is not JobState.DONE or not job.path:
            return False
        return os.path.splitext(job.path)[1].lower() in self._suffixes  # not pathlib: runs per finished job

    def request(self, job: Job) -> None:
        """Start loading a finished image's thumbnail unless it is cached or loading."""
        if not self.is_image(job) or job.id in self._images or job.id in self._pending:
            return
        self._pending.add(job.id)
        self._pool.start(_LoadThumbnail(job.id, str(job.path), self._signals))

    def image(self, job_id: int) -> QImage | None:
        return self._images.get(job_id)

    def icon(self, job: Job) -> QIcon | None:
        """A small icon of a finished image for the table (None until loaded)."""
        icon = self._icons.get(job.id)
        if icon is None and job.id in self._images:
            image = self._images[job.id]
            if image.isNull():
                return None
            pixmap = QPixmap.fromImage(image.scaled(ICON_SIZE, ICON_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                                                    Qt.TransformationMode.SmoothTransformation))
            icon = self._icons[job.id] = QIcon(pixmap)
        return icon

    def forget(self, job_id: int) -> None:
        self._images.pop(job_id, None)
        self._icons.pop(job_id, None)

    def wait(self, msecs: int = 2000) -> bool:
        """Let pending loads end (at exit)."""
        return self._pool.waitForDone(msecs)

    @Slot(int, QImage)
    def _loaded(self, job_id: int, image: QImage) -> None:
        self._pending.discard(job_id)
        self._images[job_id] = image
        while len(self._images) > MAX_CACHED:
            oldest = next(iter(self._images))
            self.forget(oldest)
        if not image.isNull():
            self.ready.emit(job_id)
