"""The run's Task Manager: processes, threads, CPU, memory and speed now, their history, and each process."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Slot
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.monitor import MonitorSample, ProcessInfo
from engine.protocol import SessionStats
from engine.transfer import human_bytes
from gui.cell_delegate import CellDelegate
from gui.fast_table import FastTableView
from gui.history_chart import HistoryChart
from gui.jobs_model import CELL_ROLE

Index = QModelIndex | QPersistentModelIndex
PROCESS_HEADERS = ("PID", "Role", "Threads", "CPU", "Memory")
WIDEST = {"processes": "999", "threads": "9999", "cpu": "999%", "memory": "999.9 MiB", "speed": "999.9 MiB/s"}
ROLE_ORDER = {"window": 0, "engine": 1, "app": 1, "worker": 2, "forkserver": 3, "resource tracker": 4}


def _percent(value: float) -> str:
    return f"{value:.0f}%"


def _count(value: float) -> str:
    return f"{value:.0f}"


def _speed(value: float) -> str:
    return f"{human_bytes(value)}/s"


class ProcessTableModel(QAbstractTableModel):
    """One row per process of the app; rows come and go as worker processes start and end."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ProcessInfo] = []
        self._texts: list[tuple[str, ...]] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(PROCESS_HEADERS)

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if parent.isValid() or not 0 <= row < len(self._rows) or not 0 <= column < len(PROCESS_HEADERS):
            return QModelIndex()
        return self.createIndex(row, column)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return PROCESS_HEADERS[section] if 0 <= section < len(PROCESS_HEADERS) else None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row, column = index.row(), index.column()
        if not 0 <= row < len(self._rows) or not 0 <= column < len(PROCESS_HEADERS):
            return None
        if role == CELL_ROLE:
            return self._texts[row][column], None, column != 1
        if role == Qt.ItemDataRole.DisplayRole:
            return self._texts[row][column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column != 1:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return None

    def row_values(self, row: int) -> list[tuple[str, None, bool]]:
        """What the cell delegate paints for each column of a row."""
        return [(text, None, column != 1) for column, text in enumerate(self._texts[row])]

    def set_processes(self, processes: tuple[ProcessInfo, ...]) -> None:
        """Rows removed and inserted when processes come and go, else one dataChanged."""
        rows = sorted(processes, key=lambda p: (ROLE_ORDER.get(p.role, 9), p.pid))
        texts: list[tuple[str, ...]] = [
            (str(p.pid), p.role, str(p.threads), _percent(p.cpu_percent), human_bytes(p.rss)) for p in rows]
        if [p.pid for p in rows] != [p.pid for p in self._rows]:
            if self._rows:
                self.beginRemoveRows(QModelIndex(), 0, len(self._rows) - 1)
                self._rows, self._texts = [], []
                self.endRemoveRows()
            if rows:
                self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
                self._rows, self._texts = rows, texts
                self.endInsertRows()
            return
        self._rows, self._texts = rows, texts
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(PROCESS_HEADERS) - 1))

    def processes(self) -> list[ProcessInfo]:
        return list(self._rows)


class MonitorPanel(QWidget):
    """Big numbers on top, the history chart, then the per-process table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.last_sample: MonitorSample | None = None
        self.values: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(0)
        cells = (("processes", "Processes", "This app and its child processes"),
                 ("threads", "Threads", "Threads in all of the app's processes"),
                 ("cpu", "CPU", "CPU time, in percent of one core (200% = two cores busy)"),
                 ("memory", "Memory", "Resident memory of all of the app's processes"),
                 ("speed", "Speed", "Total download speed of the running jobs"))
        for column, (key, title, tip) in enumerate(cells):
            caption = QLabel(title)
            caption.setToolTip(tip)
            caption.setStyleSheet("color: palette(placeholder-text);")
            value = QLabel("–")
            value.setObjectName(f"monitor-{key}")
            value.setToolTip(tip)
            font = value.font()
            font.setPointSizeF(font.pointSizeF() * 1.2)
            font.setBold(True)
            value.setFont(font)
            # the numbers change ten times a second: their width must not re-lay out the window
            value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            value.setMinimumWidth(QFontMetrics(font).horizontalAdvance(WIDEST[key]))
            grid.addWidget(caption, 0, column)
            grid.addWidget(value, 1, column)
            self.values[key] = value
        self.workers_label = QLabel("")
        self.workers_label.setWordWrap(True)
        self.workers_label.setObjectName("monitor-workers")
        self.workers_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.workers_label.setFixedHeight(2 * self.fontMetrics().lineSpacing() + 2)
        self.workers_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.chart = HistoryChart(300.0)
        self.chart.add_series("cpu", "CPU", "#d1343a", _percent, floor=100.0)
        self.chart.add_series("memory", "Memory", "#7b4fd0", human_bytes, floor=64 * 2**20)
        self.chart.add_series("threads", "Threads", "#2f7fd8", _count, floor=10.0)
        self.chart.add_series("processes", "Processes", "#d99a1e", _count, floor=2.0)
        self.chart.add_series("speed", "Speed", "#2e9e4f", _speed, floor=1024.0)
        self.processes = ProcessTableModel(self)
        self.table = FastTableView()
        self.table.setObjectName("processes")
        self.table.setModel(self.processes)
        self.table.verticalHeader().hide()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setItemDelegate(CellDelegate(self.table))
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no resize-to-contents: it asks every cell
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        metrics = self.fontMetrics()
        for column, sample in ((0, "9999999"), (2, "Threads"), (3, "100%"), (4, "999.9 MiB")):
            header.resizeSection(column, metrics.horizontalAdvance(sample) + 18)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        row = self.table.verticalHeader().defaultSectionSize()
        self.table.setMinimumHeight(2 * row + 8)  # the header and a row (on a 1024x640 screen; it scrolls)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("monitor-splitter")
        self.splitter.addWidget(self.chart)
        self.splitter.addWidget(self.table)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        rows = self.table.verticalHeader().defaultSectionSize()
        self.splitter.setSizes([10 * rows, 8 * rows + 4])  # room for the app, 4 workers and 2 helpers
        self.setMinimumWidth(340)  # fixed, so no change of text inside moves the splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(4)
        layout.addWidget(QLabel("<b>Monitor</b>"))
        layout.addLayout(grid)
        layout.addWidget(self.workers_label)
        layout.addWidget(self.splitter, 1)

    def record(self, sample: MonitorSample, stats: SessionStats) -> None:
        """Add a sample to the history chart; called on the monitor's thread, before `show_sample`."""
        self.chart.append(sample.time, {
            "cpu": sample.cpu_percent, "memory": float(sample.rss), "threads": float(sample.threads),
            "processes": float(sample.processes), "speed": stats.speed,
        })

    @Slot(object)
    def show_sample(self, sample: MonitorSample) -> None:
        self.last_sample = sample
        self.values["processes"].setText(str(sample.processes))
        self.values["threads"].setText(str(sample.threads))
        self.values["cpu"].setText(_percent(sample.cpu_percent))
        self.values["memory"].setText(human_bytes(sample.rss))
        self.chart.update()  # the monitor thread has drawn the sample into the chart (see `record`)
        self.processes.set_processes(sample.per_process)

    @Slot(object)
    def show_stats(self, stats: SessionStats, label: str = "") -> None:
        self.values["speed"].setText(_speed(stats.speed))
        workers = f"{label or stats.mode}: {stats.running} running, {stats.queued} queued"
        if stats.worker_pids:
            count = len(stats.worker_pids)
            workers += f", {count} worker process{'es' if count != 1 else ''}"
        if stats.held_back:
            workers += f" — {stats.held_back}"
        self.workers_label.setText(workers)
