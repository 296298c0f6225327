"""A QPainter chart of the last minutes: one lane per measure (CPU, memory, threads...), each to scale.

Samples arrive on the monitor's thread, which also draws the chart into an image; the widget only shows
that image. Drawing is the chart's whole cost, and off the UI thread it cannot stall the window.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

LABEL_WIDTH = 112
ONE_LINE_EXTRA = 28  # more room for the label when a lane's name and value share one line
LANE_GAP = 4
MIN_SPAN = 30.0  # the time axis grows with the history, from half a minute up to the full span


@dataclass
class Series:
    """One measure over time, with how to print its values."""

    label: str
    color: QColor
    fmt: Callable[[float], str]
    floor: float  # the smallest top of the scale, so a flat line near zero stays near the bottom
    points: deque[tuple[float, float]] = field(default_factory=deque)


class HistoryChart(QWidget):
    """Shows each series as a filled line over the last `span` seconds, newest on the right.

    `append` may be called from any thread; it draws the chart into an image there, and the next paint
    shows it. Call `update()` on the UI thread afterwards.
    """

    def __init__(self, span: float = 300.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.span = span
        self.series: dict[str, Series] = {}
        self._now = 0.0
        self._lock = threading.Lock()
        self._image: QImage | None = None
        self._size = (0, 0)
        self._style = (QPalette(self.palette()), QFont(self.font()))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(self._needed_height())

    def add_series(self, key: str, label: str, color: str, fmt: Callable[[float], str],
                   floor: float = 1.0) -> None:
        self.series[key] = Series(label, QColor(color), fmt, floor)
        self.setMinimumHeight(self._needed_height())

    def _needed_height(self) -> int:
        """Room for one line a lane (its name and value side by side, when the window is small) and the
        time axis below them; taller lanes put the value under the name."""
        line = QFontMetrics(self._style[1]).height()
        lanes = max(1, len(self.series))
        return lanes * (line + 4) + LANE_GAP * (lanes - 1) + line + 2

    def append(self, when: float, values: dict[str, float]) -> None:
        """Add one sample (time.monotonic seconds), forget what is older than the span, redraw the image."""
        with self._lock:
            self._now = when
            for key, value in values.items():
                series = self.series[key]
                series.points.append((when, value))
                while series.points and series.points[0][0] < when - self.span - 2:
                    series.points.popleft()
            if self._size[0] > 0:  # Qt 6 renders text in any thread
                self._image = self._render(*self._size)

    def visible_span(self) -> float:
        """Seconds shown: the age of the oldest sample, at least MIN_SPAN and at most `span`."""
        oldest = min((s.points[0][0] for s in self.series.values() if s.points), default=self._now)
        return max(MIN_SPAN, min(self.span, self._now - oldest))

    def latest(self, key: str) -> float | None:
        with self._lock:
            points = self.series[key].points
            return points[-1][1] if points else None

    def sizeHint(self) -> QSize:
        return QSize(360, 60 * max(1, len(self.series)))

    def paintEvent(self, event: QPaintEvent) -> None:
        size = (self.width(), self.height())
        image = self._image
        if image is None or (image.width(), image.height()) != size:  # first show or resized: draw here
            with self._lock:
                self._size = size
                image = self._image = self._render(*size)
        painter = QPainter(self)
        painter.drawImage(0, 0, image)
        painter.end()

    def _render(self, width: int, height: int) -> QImage:
        """The whole chart as an image (any thread; the caller holds the lock)."""
        image = QImage(max(1, width), max(1, height), QImage.Format.Format_ARGB32_Premultiplied)
        palette, font = self._style
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(font)
        painter.fillRect(0, 0, width, height, palette.base())
        lanes = list(self.series.values())
        footer = QFontMetrics(font).height() + 2
        if lanes:
            lane_height = (height - footer - LANE_GAP * (len(lanes) - 1)) / len(lanes)
            for i, series in enumerate(lanes):
                self._paint_lane(painter, series, QRectF(0, i * (lane_height + LANE_GAP), width, lane_height))
            painter.setFont(font)
            painter.setPen(palette.placeholderText().color())
            span = self.visible_span()
            label = f"{span:.0f} seconds" if span < 90 else f"{span / 60:.0f} minutes"
            where = QRectF(LABEL_WIDTH, height - footer, width - LABEL_WIDTH - 4, footer)
            left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            painter.drawText(where, left, f"← last {label}")
            painter.drawText(where, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, "now")
        painter.end()
        return image

    def _paint_lane(self, painter: QPainter, series: Series, lane: QRectF) -> None:
        palette, font = self._style
        one_line = lane.height() < 2 * QFontMetrics(font).height() + 2  # the name, and the value at its right
        label_width = LABEL_WIDTH + ONE_LINE_EXTRA if one_line else LABEL_WIDTH
        plot = QRectF(lane.left() + label_width, lane.top() + 2,
                      lane.width() - label_width - 4, lane.height() - 4)
        painter.setPen(QPen(palette.mid().color(), 1))
        painter.setBrush(palette.alternateBase())
        painter.drawRect(plot)
        # the label and the current value
        name_font = QFont(font)
        value_font = QFont(font)
        value_font.setBold(True)
        current = series.points[-1][1] if series.points else None
        value = series.fmt(current) if current is not None else "–"
        text_rect = QRectF(lane.left() + 4, lane.top(), label_width - 8, lane.height())
        name = series.label
        if one_line:  # the name gives way to the value, never overlaps it
            room = text_rect.width() - QFontMetrics(value_font).horizontalAdvance(value) - 6
            name = QFontMetrics(name_font).elidedText(name, Qt.TextElideMode.ElideRight, int(max(0, room)))
        vertical = Qt.AlignmentFlag.AlignVCenter if one_line else Qt.AlignmentFlag.AlignTop
        painter.setFont(name_font)
        painter.setPen(series.color.darker(115))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | vertical, name)
        painter.setFont(value_font)
        painter.setPen(palette.text().color())
        where = (Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter if one_line
                 else Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
        painter.drawText(text_rect, where, value)
        if not series.points:
            return
        top = max(series.floor, max(v for _, v in series.points)) * 1.1
        span = self.visible_span()
        start = self._now - span

        def at(when: float, value: float) -> QPointF:
            x = plot.left() + (when - start) / span * plot.width()
            y = plot.bottom() - value / top * plot.height()
            return QPointF(max(plot.left(), x), y)

        line = [at(t, v) for t, v in series.points if t >= start - 2]
        if not line:
            return
        fill = QColor(series.color)
        fill.setAlpha(60)
        area = QPolygonF([QPointF(line[0].x(), plot.bottom()), *line, QPointF(line[-1].x(), plot.bottom())])
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawPolygon(area)
        painter.setPen(QPen(series.color, 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPolyline(QPolygonF(line))
        # the scale's top, small, in the plot's corner
        small = QFont(font)
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.8))
        painter.setFont(small)
        painter.setPen(palette.placeholderText().color())
        painter.drawText(plot.adjusted(0, 1, -3, 0), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                         f"max {series.fmt(top / 1.1)}")
