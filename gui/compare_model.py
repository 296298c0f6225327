"""The Compare view's table: one row per measured mode, the fastest row highlighted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from engine.compare import ModeRun

Index = QModelIndex | QPersistentModelIndex
FASTEST_COLOUR = QColor(206, 240, 206)


def _elapsed(run: ModeRun) -> str:
    text = f"{run.elapsed_s:.2f}"
    return text + f" ({run.elapsed_min:.2f}–{run.elapsed_max:.2f})" if run.repeats > 1 else text


COLUMNS: tuple[tuple[str, str, Callable[[ModeRun], str]], ...] = (
    ("Mode", "How the downloads ran", lambda r: r.label[:1].upper() + r.label[1:]),
    ("Workers", "Threads or processes that downloaded", lambda r: str(r.workers)),
    ("Elapsed s", "Wall-clock time of the whole list; with repeats the median (min–max)", _elapsed),
    ("Files/s", "Files finished per second", lambda r: f"{r.files_per_s:.1f}"),
    ("MB/s", "Megabytes (10^6 bytes) per second", lambda r: f"{r.mb_per_s:.2f}"),
    ("Threads peak/mean", "Threads of the app and its children: most at once, and on average",
     lambda r: f"{r.peak_threads} / {r.mean_threads:.1f}"),
    ("Processes", "Most processes at once: the app, its workers and helpers",
     lambda r: str(r.peak_processes)),
    ("Peak memory MB", "Most resident memory of the app and its children at once",
     lambda r: f"{r.peak_rss_mb:.1f}"),
    ("CPU s", "CPU time used by the app and its children during the run", lambda r: f"{r.cpu_s:.2f}"),
    ("Failed", "Downloads (or pipeline checks) that failed", lambda r: str(r.failed)),
)


class CompareModel(QAbstractTableModel):
    """Rows are appended as modes finish; the fastest (least elapsed) row is bold on a green background."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[ModeRun] = []

    def clear(self) -> None:
        self.beginResetModel()
        self.runs = []
        self.endResetModel()

    def append(self, run: ModeRun) -> None:
        self.beginInsertRows(QModelIndex(), len(self.runs), len(self.runs))
        self.runs.append(run)
        self.endInsertRows()
        self.dataChanged.emit(self.index(0, 0), self.index(len(self.runs) - 1, len(COLUMNS) - 1))

    def fastest_row(self) -> int | None:
        if not self.runs:
            return None
        return min(range(len(self.runs)), key=lambda row: self.runs[row].elapsed_s)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section][1]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.runs):
            return None
        run = self.runs[index.row()]
        fastest = index.row() == self.fastest_row()
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[index.column()][2](run)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            side = Qt.AlignmentFlag.AlignLeft if index.column() == 0 else Qt.AlignmentFlag.AlignRight
            return int(side | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and fastest:
            return FASTEST_COLOUR
        if role == Qt.ItemDataRole.ForegroundRole and fastest:
            return QColor(Qt.GlobalColor.black)
        if role == Qt.ItemDataRole.FontRole and fastest:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and fastest:
            return "The fastest mode on this list"
        return None
