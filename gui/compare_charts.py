"""QPainter bar charts of a comparison: elapsed time, files per second and peak memory, one bar per mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.compare import ModeRun

PANEL_GAP = 16
BAR_GAP = 5
FASTEST = QColor(46, 139, 87)
OTHER = QColor(96, 130, 182)
MAX_BAR = 40
TICKS = 4  # scale marks under each chart: 0, a quarter, half, three quarters, the top
NOTE = ("Green: the fastest mode (least elapsed time). Memory is the app and all its processes at the "
        "busiest moment; pages shared between processes count in each.")


@dataclass(frozen=True)
class Chart:
    """One panel: its title, the value each run shows, and how to print it."""

    title: str
    value: Callable[[ModeRun], float]
    fmt: Callable[[float], str]
    spread: Callable[[ModeRun], tuple[float, float] | None] = lambda run: None


CHARTS = (
    Chart("Elapsed time (s) — shorter is faster", lambda r: r.elapsed_s, lambda v: f"{v:.2f} s",
          lambda r: (r.elapsed_min, r.elapsed_max) if r.repeats > 1 else None),
    Chart("Files per second — longer is faster", lambda r: r.files_per_s, lambda v: f"{v:.1f}"),
    Chart("Peak memory (MB) — app and children", lambda r: r.peak_rss_mb, lambda v: f"{v:.0f} MB"),
)


def short_label(run: ModeRun) -> str:
    """'Thread pool', 'Threads', 'Pipeline': the label without its explanation in brackets."""
    label = run.label.split(" (")[0]
    return label[:1].upper() + label[1:]


class CompareCharts(QWidget):
    """Three horizontal bar charts side by side; the fastest mode's bars in green. `set_runs` redraws."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[ModeRun] = []
        self.fastest: str | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(150)
        self.setAutoFillBackground(True)

    def set_runs(self, runs: Sequence[ModeRun]) -> None:
        self.runs = list(runs)
        fastest = min(self.runs, key=lambda r: r.elapsed_s, default=None)
        self.fastest = fastest.mode if fastest else None
        self.update()

    def save_png(self, path: str) -> bool:
        """Render the charts as they are shown into a PNG file; False when it cannot be written."""
        return self.grab().save(path, "PNG")  # type: ignore[call-overload]  # the stubs want bytes

    def sizeHint(self) -> QSize:
        return QSize(900, 80 + 6 * (MAX_BAR + BAR_GAP))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        note = QFontMetrics(self.font()).height() + 8
        width = (self.width() - PANEL_GAP * (len(CHARTS) + 1)) / len(CHARTS)
        for i, chart in enumerate(CHARTS):
            area = QRectF(PANEL_GAP + i * (width + PANEL_GAP), 8, width, self.height() - 16 - note)
            self._paint_chart(painter, chart, area)
        painter.setPen(self.palette().placeholderText().color())
        painter.drawText(QRectF(PANEL_GAP, self.height() - note - 4, self.width() - 2 * PANEL_GAP, note),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, NOTE)
        painter.end()

    def _paint_chart(self, painter: QPainter, chart: Chart, area: QRectF) -> None:
        palette = self.palette()
        title_font = QFont(self.font())
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.setPen(palette.text().color())
        title_height = QFontMetrics(title_font).height() + 6
        painter.drawText(QRectF(area.left(), area.top(), area.width(), title_height),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, chart.title)
        font = QFont(self.font())
        painter.setFont(font)
        metrics = QFontMetrics(font)
        if not self.runs:
            painter.setPen(palette.placeholderText().color())
            painter.drawText(area.adjusted(0, title_height, 0, 0), Qt.AlignmentFlag.AlignCenter,
                             "No mode measured yet")
            return
        label_width = max(metrics.horizontalAdvance(short_label(r)) for r in self.runs) + 10
        value_width = max(metrics.horizontalAdvance(chart.fmt(chart.value(r))) for r in self.runs) + 8
        scale_height = metrics.height() + 6
        plot = QRectF(area.left() + label_width, area.top() + title_height,
                      area.width() - label_width - value_width, area.height() - title_height - scale_height)
        bar = min(MAX_BAR, (plot.height() - BAR_GAP * (len(self.runs) - 1)) / len(self.runs))
        top = max((max(chart.value(r), (chart.spread(r) or (0.0, 0.0))[1]) for r in self.runs), default=0.0)
        scale = plot.width() / top if top > 0 else 0.0
        bottom = plot.top() + len(self.runs) * (bar + BAR_GAP) - BAR_GAP
        self._paint_scale(painter, chart, QRectF(plot.left(), plot.top(), plot.width(), bottom - plot.top()),
                          top, scale_height)
        for row, run in enumerate(self.runs):
            y = plot.top() + row * (bar + BAR_GAP)
            value = chart.value(run)
            length = max(1.0, value * scale)
            painter.setPen(palette.text().color())
            painter.drawText(QRectF(area.left(), y, label_width - 6, bar),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, short_label(run))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(FASTEST if run.mode == self.fastest else OTHER)
            painter.drawRoundedRect(QRectF(plot.left(), y + 2, length, bar - 4), 2, 2)
            spread = chart.spread(run)
            if spread is not None:  # the repeats' range, as a whisker over the median bar
                painter.setPen(QPen(palette.text().color(), 1.5))
                low, high = plot.left() + spread[0] * scale, plot.left() + spread[1] * scale
                middle = y + bar / 2
                painter.drawLine(QPointF(low, middle), QPointF(high, middle))
                for x in (low, high):
                    painter.drawLine(QPointF(x, y + 5), QPointF(x, y + bar - 5))
                length = max(length, high - plot.left())
            painter.setPen(palette.text().color())
            painter.drawText(QRectF(plot.left() + length + 4, y, value_width, bar),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, chart.fmt(value))

    def _paint_scale(self, painter: QPainter, chart: Chart, plot: QRectF, top: float, height: float) -> None:
        """Faint vertical lines at even steps of the scale, each labelled under the bars."""
        palette = self.palette()
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        for step in range(TICKS + 1):
            x = plot.left() + plot.width() * step / TICKS
            painter.setPen(QPen(palette.mid().color() if step == 0 else palette.midlight().color(), 1))
            painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            if top > 0:
                painter.setPen(palette.placeholderText().color())
                where = QRectF(x - 40, plot.bottom() + 2, 80, height)
                painter.drawText(where, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                                 chart.fmt(top * step / TICKS))
        painter.setFont(self.font())
