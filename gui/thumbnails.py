"""Thumbnails of finished image downloads for the table and the preview: the pipeline stage's when it made
one, else made on a worker thread by the same thumbnailer (engine/thumbnails.py), and cached."""

from __future__ import annotations

import os.path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QPixmap

from engine.jobs import Job, JobState
from engine.thumbnails import Thumbnail, image_suffixes, make_thumbnail

ICON_SIZE = 22
MAX_CACHED = 400


def to_image(thumbnail: Thumbnail | None) -> QImage:
    """The thumbnail as a QImage (a null one for None)."""
    return QImage.fromData(thumbnail.jpeg) if thumbnail is not None else QImage()


class _Signals(QObject):
    loaded = Signal(int, QImage)  # job id, scaled image (null when the file is not a readable image)


class _LoadThumbnail(QRunnable):
    """Read and scale one image file, off the UI thread."""

    def __init__(self, job_id: int, path: str, signals: _Signals) -> None:
        super().__init__()
        self._job_id, self._path, self._signals = job_id, path, signals

    def run(self) -> None:
        self._signals.loaded.emit(self._job_id, to_image(make_thumbnail(self._path)))


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

    def offer(self, job_id: int, thumbnail: Thumbnail) -> None:
        """A thumbnail made elsewhere (by the pipeline's stage): cached as if loaded here."""
        self._loaded(job_id, to_image(thumbnail))

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
