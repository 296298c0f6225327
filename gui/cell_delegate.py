"""Paints a table cell (icon and elided text) from one model call instead of Qt's half a dozen."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QIcon, QPainter

from gui.fast_table import Look, ValueDelegate
from gui.jobs_model import CELL_ROLE

Cell = tuple[str, QIcon | None, bool]
ICON = 16
PAD = 4
ELIDE = Qt.TextElideMode.ElideRight


class CellDelegate(ValueDelegate):
    """Qt's delegate asks the model for font, alignment, colours, check state, icon and text: six Python
    calls per cell, each of which must take the GIL while download threads compete for it. This one asks
    once (CELL_ROLE) and paints what a downloads table needs."""

    role = CELL_ROLE

    def paint_cell(self, painter: QPainter, rect: QRect, cell: Cell, selected: bool, look: Look) -> None:
        """Paint (text, icon or None, right-aligned) into rect."""
        text, icon, right = cell
        if selected:
            painter.fillRect(rect, look.highlight)
        inner = rect.adjusted(PAD, 0, -PAD, 0)
        if icon is not None:
            icon.paint(painter, QRect(inner.left(), inner.top() + (inner.height() - ICON) // 2, ICON, ICON))
            inner.setLeft(inner.left() + ICON + PAD)
        if not text:
            return
        painter.setPen(look.highlighted_text if selected else look.text)
        if not right and look.texts.width(text) > inner.width():
            text = look.metrics.elidedText(text, ELIDE, inner.width())
        look.texts.draw(painter, inner, text, "right" if right else "left")
