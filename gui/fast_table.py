"""A QTableView whose visible cells are painted in one Python call, through its (Python) delegates."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QModelIndex, QRect, QTimer
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableView, QWidget

from gui.text_cache import TextCache

QUICK_PAINT_MS = 12.0  # repaints quicker than this happen at once
DEFER_FACTOR = 3.0  # a slow repaint waits three times its own length before the next
MAX_DEFER_MS = 400.0


@dataclass(frozen=True)
class Look:
    """What painting a cell needs from the view's palette and font, read once per repaint."""

    text: QColor
    highlighted_text: QColor
    highlight: QBrush
    base: QBrush
    metrics: QFontMetrics
    texts: TextCache

    @classmethod
    def of(cls, palette: QPalette, metrics: QFontMetrics, texts: TextCache) -> Look:
        return cls(palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.HighlightedText),
                   palette.highlight(), palette.base(), metrics, texts)

    @classmethod
    def of_option(cls, option: QStyleOptionViewItem, painter: QPainter) -> Look:
        return cls.of(option.palette, option.fontMetrics, TextCache(painter.font()))  # type: ignore[attr-defined]


class CellPainter(Protocol):
    """A delegate that can paint a cell from a value, without a model index."""

    def paint_cell(self, painter: QPainter, rect: QRect, value: Any, selected: bool, look: Look) -> None: ...


def option_selected(option: QStyleOptionViewItem) -> bool:
    return bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]


class FastTableView(QTableView):
    """Paints rows and cells itself, asking each column's delegate to paint its cells.

    QTableView paints from C++ and calls into Python once per cell (the delegate) and more (the model).
    Each such call must take the GIL, and while download threads compete for it every take can wait
    for milliseconds: a screenful of cells then stalls the window for a few hundred. Here the whole
    repaint is one call into Python, which keeps the GIL while it calls the delegates and the model.
    Supports what Parafetch's tables use: row selection, alternating rows, no grid, no editors.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setShowGrid(False)
        self._texts = TextCache(self.font())
        self.paint_ms = 0.0  # how long the last repaint took, waiting for the GIL included
        self._pending = QRect()

    def schedule_update(self, rect: QRect) -> None:
        """Repaint `rect` soon: at once while repaints are quick, later when they are slow.

        When download threads keep the GIL busy a repaint can take many times its CPU cost; spacing
        them out keeps the table's share of the UI thread under about a quarter.
        """
        if self.paint_ms < QUICK_PAINT_MS and self._pending.isNull():
            self.viewport().update(rect)
            return
        if self._pending.isNull():
            QTimer.singleShot(int(min(MAX_DEFER_MS, DEFER_FACTOR * self.paint_ms)), self._flush)
        self._pending = self._pending.united(rect)

    def _flush(self) -> None:
        pending, self._pending = self._pending, QRect()
        self.viewport().update(pending)

    def row_values(self, row: int) -> Sequence[Any] | None:
        """Per column, what its delegate's `paint_cell` paints; None: ask the delegates cell by cell."""
        values = getattr(self.model(), "row_values", None)
        return values(row) if callable(values) else None

    def delegate_for(self, column: int) -> QStyledItemDelegate:
        delegate = self.itemDelegateForColumn(column) or self.itemDelegate()
        assert isinstance(delegate, QStyledItemDelegate)
        return delegate

    def paintEvent(self, event: QPaintEvent) -> None:
        model = self.model()
        area: QRect = event.rect()
        first = self.rowAt(area.top())
        if model is None or first < 0:
            return
        last = self.rowAt(area.bottom())
        last = last if last >= 0 else model.rowCount() - 1
        header = self.horizontalHeader()
        columns = [(c, header.sectionViewportPosition(c), header.sectionSize(c), self.delegate_for(c))
                   for c in range(header.count()) if not header.isSectionHidden(c)]
        palette = self.palette()
        if self._texts.font != self.font():
            self._texts = TextCache(self.font())
        look = Look.of(palette, self.fontMetrics(), self._texts)
        alternate = palette.alternateBase() if self.alternatingRowColors() else None
        selection = self.selectionModel()
        width = self.viewport().width()
        option: QStyleOptionViewItem | None = None
        started = time.perf_counter()
        painter = QPainter(self.viewport())
        painter.setFont(self._texts.font)
        try:
            for row in range(first, last + 1):
                top, height = self.rowViewportPosition(row), self.rowHeight(row)
                if alternate is not None and row % 2:
                    painter.fillRect(QRect(0, top, width, height), alternate)
                selected = selection is not None and selection.isRowSelected(row, QModelIndex())
                values = self.row_values(row)
                for column, left, size, delegate in columns:
                    rect = QRect(left, top, size, height)
                    if values is not None and hasattr(delegate, "paint_cell"):
                        delegate.paint_cell(painter, rect, values[column], selected, look)
                        continue
                    if option is None:
                        option = QStyleOptionViewItem()
                        self.initViewItemOption(option)
                    option.rect = rect  # type: ignore[attr-defined]
                    delegate.paint(painter, option, model.index(row, column))
        finally:
            painter.end()
            self.paint_ms = (time.perf_counter() - started) * 1000
