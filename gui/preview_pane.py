"""The preview pane: the selected finished image as a thumbnail, with its name, size and location."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from engine.jobs import Job
from engine.transfer import human_bytes

THUMB_BOX = 88


class PreviewPane(QWidget):
    """Shows one job: a thumbnail for images, or a short note on how to get one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job_id: int | None = None
        self.picture = QLabel()
        self.picture.setObjectName("preview-image")
        self.picture.setFixedSize(THUMB_BOX, THUMB_BOX)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setStyleSheet("background: palette(base); border: 1px solid palette(mid);")
        self.caption = QLabel()
        self.caption.setObjectName("preview-caption")
        self.caption.setWordWrap(True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.picture)
        layout.addWidget(self.caption, 1)
        self.show_job(None, None)

    def show_job(self, job: Job | None, image: QImage | None) -> None:
        self.job_id = job.id if job else None
        if image is not None and not image.isNull():
            scaled = image.scaled(THUMB_BOX - 4, THUMB_BOX - 4, Qt.AspectRatioMode.KeepAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation)
            self.picture.setPixmap(QPixmap.fromImage(scaled))
        else:
            self.picture.clear()
            self.picture.setText("no preview")
        self.show_caption(job)

    def show_caption(self, job: Job | None) -> None:
        """The job's name, state, size, path and error under the picture (kept current while it runs)."""
        if job is None:
            self.caption.setText("<b>Preview</b><br>Select a finished image to see it here.")
            return
        name = job.name or job.url.rsplit("/", 1)[-1]
        lines = [f"<b>{_escape(name)}</b>", f"{job.state.value}, {human_bytes(job.bytes_done)}"]
        if job.path:
            lines.append(_escape(job.path))
        if job.error:
            lines.append(f"<span style='color:#d1343a'>{_escape(job.error)}</span>")
        self.caption.setText("<br>".join(lines))

    def has_image(self) -> bool:
        pixmap = self.picture.pixmap()
        return pixmap is not None and not pixmap.isNull()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
