"""Small painted icons, one per job state, that read the same on every platform and style."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from engine.jobs import JobState

STATE_COLORS: dict[JobState, str] = {
    JobState.QUEUED: "#8a8f98",
    JobState.RUNNING: "#2f7fd8",
    JobState.PAUSED: "#d99a1e",
    JobState.DONE: "#2e9e4f",
    JobState.FAILED: "#d1343a",
    JobState.CANCELLED: "#6b6f76",
}

_cache: dict[JobState, QIcon] = {}


def _glyph(painter: QPainter, state: JobState, size: float) -> None:
    """The white symbol inside the disc: dots, play, pause, tick, cross, dash."""
    pen = QPen(QColor("white"), size * 0.13, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
               Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    s = size
    if state is JobState.RUNNING:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("white"))
        painter.drawPolygon(QPolygonF([QPointF(s * 0.38, s * 0.28), QPointF(s * 0.38, s * 0.72),
                                       QPointF(s * 0.74, s * 0.5)]))
    elif state is JobState.PAUSED:
        painter.drawLine(QPointF(s * 0.38, s * 0.3), QPointF(s * 0.38, s * 0.7))
        painter.drawLine(QPointF(s * 0.62, s * 0.3), QPointF(s * 0.62, s * 0.7))
    elif state is JobState.DONE:
        path = QPainterPath(QPointF(s * 0.28, s * 0.52))
        path.lineTo(QPointF(s * 0.44, s * 0.68))
        path.lineTo(QPointF(s * 0.72, s * 0.34))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
    elif state is JobState.FAILED:
        painter.drawLine(QPointF(s * 0.34, s * 0.34), QPointF(s * 0.66, s * 0.66))
        painter.drawLine(QPointF(s * 0.66, s * 0.34), QPointF(s * 0.34, s * 0.66))
    elif state is JobState.CANCELLED:
        painter.drawLine(QPointF(s * 0.32, s * 0.5), QPointF(s * 0.68, s * 0.5))
    else:  # queued: three dots
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("white"))
        for x in (0.3, 0.5, 0.7):
            painter.drawEllipse(QPointF(s * x, s * 0.5), s * 0.065, s * 0.065)


def _paint(state: JobState, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(STATE_COLORS[state]))
    painter.drawEllipse(QRectF(0.5, 0.5, size - 1.0, size - 1.0))
    _glyph(painter, state, float(size))
    painter.end()
    return pixmap


def state_icon(state: JobState) -> QIcon:
    """The icon for a state (painted once, at two sizes)."""
    icon = _cache.get(state)
    if icon is None:
        icon = QIcon()
        for size in (16, 32):
            icon.addPixmap(_paint(state, size))
        _cache[state] = icon
    return icon
