"""A QTableView whose visible cells are painted in one Python call, through its (Python) delegates."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QTimer
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QPainter, QPaintEvent, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableView, QWidget

from gui.text_cache import TextCache

QUICK_PAINT_MS = 12.0  # repaints quicker than this happen at once
DEFER_FACTOR = 3.0  # a slow repaint waits three times its own length before the next
MAX_DEFER_MS = 400.0
Columns = list[tuple[int, int, int, QStyledItemDelegate]]  # (column, left, width, delegate) of each shown one


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


class ValueDelegate(QStyledItemDelegate):
    """A delegate that paints a cell from one value, the model's `role` data: one Python call per cell
    instead of Qt's half a dozen, and `paint_cell` lets the view paint a row without model indexes."""

    role: int

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        value = index.data(self.role)
        if value is not None:
            self.paint_cell(painter, option.rect, value, option_selected(option),  # type: ignore[attr-defined]
                            Look.of_option(option, painter))

    def paint_cell(self, painter: QPainter, rect: QRect, value: Any, selected: bool, look: Look) -> None:
        raise NotImplementedError


def option_selected(option: QStyleOptionViewItem) -> bool:
    return bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]


class FastTableView(QTableView):
    """Paints rows and cells itself, asking each column's delegate to paint its cells.

    QTableView paints from C++ and calls into Python once per cell (the delegate) and more (the model).
    Here the whole repaint is one call into Python that calls the delegates and the model itself, and
    unchanged rows are copied from images. Measured with the downloads in the engine host (2026-12-03,
    64 running rows at 1280x800, every row changed between repaints): 10 ms a repaint here against 19 ms
    for QTableView with the same delegates, which let the UI thread stall past 100 ms in 2 of 6 runs of
    the 64-process start-up test.
    Supports what Parafetch's tables use: row selection, alternating rows, no grid, no editors.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setShowGrid(False)
        self._texts = TextCache(self.font())
        self.paint_ms = 0.0  # how long the last repaint took, waiting for the GIL included
        self._pending = QRect()
        self._row_images: dict[int, tuple[object, QPixmap]] = {}  # row -> (what it shows, its image)
        self.viewport()  # PySide builds dozens of QtWidgets enum types on the first call: here, not mid-run

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
        self._paint_rows(event)

    def _paint_rows(self, event: QPaintEvent) -> None:
        """Rows whose values can be painted without the model are kept as images: a row repaints only when
        what it shows changes, and a repaint of rows that did not (a resize, a scroll back) is a copy."""
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
        ratio = self.viewport().devicePixelRatioF()
        layout = ([c[:3] for c in columns], width, ratio, palette.cacheKey(), self._texts)
        images = all(hasattr(delegate, "paint_cell") for *_, delegate in columns)
        started = time.perf_counter()
        painter = QPainter(self.viewport())
        painter.setFont(self._texts.font)
        try:
            for row in range(first, last + 1):
                top, height = self.rowViewportPosition(row), self.rowHeight(row)
                selected = selection is not None and selection.isRowSelected(row, QModelIndex())
                values = self.row_values(row)
                if images and values is not None:
                    shows = (layout, height, row % 2, selected, values)
                    kept = self._row_images.get(row)
                    if kept is None or kept[0] != shows:
                        background = alternate if alternate is not None and row % 2 else look.base
                        image = self._row_image(row, QRect(0, 0, width, height), ratio, background,
                                                (values, selected, look, columns))
                        kept = self._row_images[row] = (shows, image)
                    painter.drawPixmap(0, top, kept[1])
                    continue
                if alternate is not None and row % 2:
                    painter.fillRect(QRect(0, top, width, height), alternate)
                self._paint_row(painter, row, top, height, values, selected, look, columns)
        finally:
            painter.end()
            self.paint_ms = (time.perf_counter() - started) * 1000
        self._forget_hidden_rows()

    def _row_image(self, row: int, rect: QRect, ratio: float, background: QBrush,
                   cells: tuple[Sequence[Any], bool, Look, Columns]) -> QPixmap:
        image = QPixmap(round(rect.width() * ratio), round(rect.height() * ratio))
        image.setDevicePixelRatio(ratio)
        painter = QPainter(image)
        painter.setFont(self._texts.font)
        painter.fillRect(rect, background)
        self._paint_row(painter, row, 0, rect.height(), *cells)
        painter.end()
        return image

    def _paint_row(self, painter: QPainter, row: int, top: int, height: int, values: Sequence[Any] | None,
                   selected: bool, look: Look, columns: Columns) -> None:
        """A row's cells: by `paint_cell` from the row's values where it can, else by the delegate's paint."""
        option: QStyleOptionViewItem | None = None
        for column, left, size, delegate in columns:
            rect = QRect(left, top, size, height)
            if values is not None and hasattr(delegate, "paint_cell"):
                delegate.paint_cell(painter, rect, values[column], selected, look)
                continue
            if option is None:
                option = QStyleOptionViewItem()
                self.initViewItemOption(option)
            option.rect = rect  # type: ignore[attr-defined]
            delegate.paint(painter, option, self.model().index(row, column))

    def _forget_hidden_rows(self) -> None:
        """Keep the images of the rows on screen only, once there are twice as many as fit."""
        model, last = self.model(), self.rowAt(self.viewport().height() - 1)
        shown = range(self.rowAt(0), last + 1 if last >= 0 else model.rowCount() if model is not None else 0)
        if len(self._row_images) > 2 * len(shown) + 8:
            self._row_images = {row: kept for row, kept in self._row_images.items() if row in shown}
