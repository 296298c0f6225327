"""The Failed list's table model: the downloads that failed for good, kept in step with the jobs table."""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from engine.jobs import Job
from gui.jobs_model import display_name

Index = QModelIndex | QPersistentModelIndex


class FailedColumn(enum.IntEnum):
    NAME = 0
    ATTEMPTS = 1
    ERROR = 2
    URL = 3


FAILED_HEADERS = {FailedColumn.NAME: "Name", FailedColumn.ATTEMPTS: "Attempts", FailedColumn.ERROR: "Error",
                  FailedColumn.URL: "URL"}


class FailedModel(QAbstractTableModel):
    """Rows are the failed jobs in table order; `sync` inserts, removes and updates rows, so the
    selection stays on the jobs it was on."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[Job] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(FailedColumn)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(FailedColumn):
            return FAILED_HEADERS[FailedColumn(section)]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._jobs):
            return None
        job = self._jobs[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(job, FailedColumn(index.column()))
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{job.url}\n{job.error or ''}".rstrip()
        return None

    @staticmethod
    def _text(job: Job, column: FailedColumn) -> str:
        if column is FailedColumn.NAME:
            return display_name(job)
        if column is FailedColumn.ATTEMPTS:
            return str(job.attempts)
        if column is FailedColumn.ERROR:
            return job.error or ""
        return job.url

    def jobs(self) -> list[Job]:
        return list(self._jobs)

    def job_at(self, row: int) -> Job | None:
        return self._jobs[row] if 0 <= row < len(self._jobs) else None

    def sync(self, jobs: list[Job]) -> None:
        """Show `jobs` (in table order): rows that left are removed, new ones inserted in place."""
        wanted = {job.id for job in jobs}
        for row in reversed(range(len(self._jobs))):
            if self._jobs[row].id not in wanted:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._jobs[row]
                self.endRemoveRows()
        for row, job in enumerate(jobs):  # what is left keeps its order: insert the missing, update the rest
            if row < len(self._jobs) and self._jobs[row].id == job.id:
                if self._jobs[row] != job:
                    self._jobs[row] = job
                    self.dataChanged.emit(self.index(row, 0), self.index(row, len(FailedColumn) - 1))
                continue
            self.beginInsertRows(QModelIndex(), row, row)
            self._jobs.insert(row, job)
            self.endInsertRows()
