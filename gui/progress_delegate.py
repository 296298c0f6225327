"""Paints the progress column as a flat progress bar in the job's state colour, with the percentage on it."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from engine.jobs import JobState
from gui.fast_table import Look, ValueDelegate
from gui.jobs_model import BAR_ROLE
from gui.state_icons import STATE_COLORS

_FILL = {state: QColor(colour) for state, colour in STATE_COLORS.items()}
_WHITE = QColor("white")
Bar = tuple[JobState, float | None, str]


class ProgressDelegate(ValueDelegate):
    """Draws the bar with QPainter from one model call; a repaint of many rows stays cheap."""

    role = BAR_ROLE

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._frame = QPen(QColor("#9aa0a6"), 1)

    def paint_cell(self, painter: QPainter, rect: QRect, bar: Bar, selected: bool, look: Look) -> None:
        """Paint (state, fraction or None, text) into rect."""
        state, fraction, text = bar
        if selected:
            painter.fillRect(rect, look.highlight)
        if fraction is None and state not in (JobState.RUNNING, JobState.DONE) and not text:
            return  # nothing to show yet (queued), or nothing came (failed before any data)
        box = QRectF(rect.adjusted(3, 3, -4, -4))
        painter.save()
        painter.setPen(self._frame)
        painter.setBrush(look.base)
        painter.drawRect(box)
        split = box.left() + 1 + (box.width() - 1) * (fraction or 0.0)
        if fraction:
            painter.fillRect(QRectF(box.left() + 1, box.top() + 1, split - box.left() - 1, box.height() - 1),
                             _FILL[state])
            # the text is white over the filled part and dark over the rest
            painter.setClipRect(QRectF(box.left(), box.top(), split - box.left(), box.height() + 1))
            painter.setPen(_WHITE)
            look.texts.draw(painter, box, text, "center")
            painter.setClipRect(QRectF(split, box.top(), box.right() - split + 1, box.height() + 1))
        painter.setPen(look.text)
        look.texts.draw(painter, box, text, "center")
        painter.restore()
