"""The downloads table model: one row per job, fed by the bridge with one dataChanged per refresh."""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QIcon

from engine.events import RetryPolicy
from engine.jobs import Job, JobState
from engine.protocol import Changes
from engine.terminal import format_duration
from engine.transfer import human_bytes
from gui.state_icons import state_icon

Index = QModelIndex | QPersistentModelIndex
ThumbnailLookup = Callable[[Job], QIcon | None]


class Column(enum.IntEnum):
    NAME = 0
    HOST = 1
    SIZE = 2
    PROGRESS = 3
    SPEED = 4
    ETA = 5
    ELAPSED = 6
    STATE = 7
    PRIORITY = 8
    ATTEMPTS = 9
    NEXT_TRY = 10
    WORKER = 11


HEADERS = {
    Column.NAME: "Name", Column.HOST: "Host", Column.SIZE: "Size", Column.PROGRESS: "Progress",
    Column.SPEED: "Speed", Column.ETA: "ETA", Column.ELAPSED: "Elapsed", Column.STATE: "State",
    Column.PRIORITY: "Priority", Column.ATTEMPTS: "Attempts", Column.NEXT_TRY: "Next try",
    Column.WORKER: "Worker",
}
HEADER_TIPS = {
    Column.WORKER: "The process id and thread name (pid / thread) of the worker that downloads this file",
    Column.ELAPSED: "Time since the download first started",
    Column.PRIORITY: "Waiting downloads start by priority (higher first), then in the order they were added",
    Column.ATTEMPTS: "Attempts made so far, of the most that are made before the download fails",
    Column.NEXT_TRY: "When a download that failed for a passing reason is tried again",
}
JOB_ROLE = Qt.ItemDataRole.UserRole + 1  # the Job (a copy)
JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 2  # int
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 3  # float 0..1, or None when the size is unknown
SORT_ROLE = Qt.ItemDataRole.UserRole + 4  # a value that sorts naturally
BAR_ROLE = Qt.ItemDataRole.UserRole + 5  # (state, fraction or None, text) for the progress delegate
CELL_ROLE = Qt.ItemDataRole.UserRole + 6  # (text, icon or None, right-aligned) for the cell delegate
STATE_ORDER = {s: i for i, s in enumerate(
    (JobState.RUNNING, JobState.QUEUED, JobState.PAUSED, JobState.FAILED, JobState.CANCELLED, JobState.DONE))}
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_NUMERIC = {Column.SIZE, Column.SPEED, Column.ETA, Column.ELAPSED, Column.PRIORITY, Column.ATTEMPTS,
            Column.NEXT_TRY}
_ALIGNMENT = tuple(_RIGHT if column in _NUMERIC else None for column in Column)
COLUMNS = len(Column)
ACTIVE = (JobState.RUNNING,)


def display_name(job: Job) -> str:
    """The file's name once known, else the last part of the URL."""
    if job.name:
        return job.name
    parts = urlsplit(job.url)
    tail = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return tail or parts.hostname or job.url


def host_of(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def progress_of(job: Job) -> float | None:
    if job.state is JobState.DONE:
        return 1.0
    if job.total:
        return min(1.0, job.bytes_done / job.total)
    return None


def elapsed_of(job: Job, now: float) -> float | None:
    if job.started_at is None:
        return None
    return (job.finished_at or now) - job.started_at


def failed_for_good(job: Job) -> bool:
    """A failed job the person has not marked resolved: it belongs on the Failed list."""
    return job.state is JobState.FAILED and not job.resolved


def next_try_text(seconds: float) -> str:
    """4.2 -> 'in 5 s'; a minute or more as 'in 1:05'."""
    whole = math.ceil(max(0.0, seconds))
    return f"in {whole} s" if whole < 60 else f"in {format_duration(whole)}"


class JobsTableModel(QAbstractTableModel):
    """Rows are copies of the session's jobs in the order they were added; `apply` folds in changes."""

    def __init__(self, parent: QObject | None = None, clock: Callable[[], float] = time.time,
                 max_attempts: int = RetryPolicy.attempts) -> None:
        super().__init__(parent)
        self.max_attempts = max_attempts
        self._jobs: list[Job] = []
        self._rows: dict[int, int] = {}
        self._restored = False  # the first batch is the queue brought back from the store
        self._urls: dict[tuple[str, str], int] = {}  # (url, folder) -> job id: the session keeps one each
        self._clock = clock
        self._running: set[int] = set()  # ids of running jobs: their rows change every refresh
        self._failed: set[int] = set()  # ids of jobs that failed for good (see failed_for_good)
        self._texts: dict[int, tuple[str, ...]] = {}  # row -> display texts, rebuilt when the row changes
        self.thumbnail: ThumbnailLookup = lambda job: None
        self._answers: dict[int, Callable[[int, int], Any]] = {
            Qt.ItemDataRole.DisplayRole: self._display,
            Qt.ItemDataRole.DecorationRole: self._decoration,
            Qt.ItemDataRole.ToolTipRole: lambda row, column: self._tooltip(self._jobs[row]),
            Qt.ItemDataRole.TextAlignmentRole: lambda row, column: _ALIGNMENT[column],
            JOB_ROLE: lambda row, column: self._jobs[row],
            JOB_ID_ROLE: lambda row, column: self._jobs[row].id,
            PROGRESS_ROLE: lambda row, column: progress_of(self._jobs[row]),
            SORT_ROLE: lambda row, column: self._sort_key(self._jobs[row], Column(column)),
            BAR_ROLE: self._bar,
            CELL_ROLE: self._cell,
        }

    # ---- Qt interface -----------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        """Qt's own index() asks rowCount() and columnCount(): two Python calls where one will do."""
        if parent.isValid() or not 0 <= row < len(self._jobs) or not 0 <= column < COLUMNS:
            return QModelIndex()
        return self.createIndex(row, column)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(Column(section))
        return None

    # flags(): QAbstractTableModel's own (enabled, selectable) — not overridden, so the view asks C++

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Called hundreds of times per repaint: unknown roles leave before touching the index."""
        answer = self._answers.get(role)
        if answer is None:
            return None
        row, column = index.row(), index.column()
        if not 0 <= row < len(self._jobs) or not 0 <= column < COLUMNS:
            return None
        return answer(row, column)

    def _display(self, row: int, column: int) -> str:
        texts = self._texts.get(row)
        if texts is None:
            job = self._jobs[row]
            texts = self._texts[row] = tuple(self._text(job, c) for c in Column)
        return texts[column]

    def _decoration(self, row: int, column: int) -> Any:
        if column == Column.STATE:
            return state_icon(self._jobs[row].state)
        if column == Column.NAME and self._jobs[row].state is JobState.DONE:
            return self.thumbnail(self._jobs[row])
        return None

    def _cell(self, row: int, column: int) -> tuple[str, QIcon | None, bool]:
        """What the cell delegate paints, in one call: text, icon, right-aligned."""
        return self._display(row, column), self._decoration(row, column), column in _NUMERIC

    def row_values(self, row: int) -> list[Any]:
        """What the delegates paint for every column of a row, without a Qt call per cell."""
        return [self._bar(row, column) if column == Column.PROGRESS else self._cell(row, column)
                for column in range(COLUMNS)]

    def _bar(self, row: int, column: int) -> tuple[JobState, float | None, str]:
        """What the progress delegate paints, in one call: state, fraction, text."""
        job = self._jobs[row]
        return job.state, progress_of(job), self._display(row, Column.PROGRESS)

    # ---- cell contents ----------------------------------------------------------------------------------

    def _text(self, job: Job, column: Column) -> str:
        if column is Column.NAME:
            return display_name(job)
        if column is Column.HOST:
            return host_of(job.url)
        if column is Column.SIZE:
            size = job.total if job.total is not None else (
                job.bytes_done if job.state is JobState.DONE else None)
            return human_bytes(size) if size is not None else ""
        if column is Column.PROGRESS:
            fraction = progress_of(job)
            if fraction is not None:
                return f"{100 * fraction:.0f}%"
            return human_bytes(job.bytes_done) if job.bytes_done else ""
        if column is Column.SPEED:
            return f"{human_bytes(job.speed)}/s" if job.state is JobState.RUNNING and job.speed > 0 else ""
        if column is Column.ETA:
            return format_duration(job.eta) if job.eta is not None else ""
        if column is Column.ELAPSED:
            elapsed = elapsed_of(job, self._clock())
            return format_duration(elapsed) if elapsed is not None else ""
        if column is Column.STATE:
            if job.state is JobState.RUNNING and job.next_attempt_at is not None:
                return "retrying"
            return job.state.value
        if column is Column.PRIORITY:
            return f"{job.priority:+d}" if job.priority else "0"
        if column is Column.ATTEMPTS:
            return f"{job.attempts}/{self.max_attempts}" if job.attempts else ""
        if column is Column.NEXT_TRY:
            if job.state is not JobState.RUNNING or job.next_attempt_at is None:
                return ""
            return next_try_text(job.next_attempt_at - self._clock())
        return job.worker

    def _tooltip(self, job: Job) -> str:
        lines = [job.url]
        if job.error:
            lines.insert(0, f"Failed: {job.error}" if job.state is JobState.FAILED else job.error)
        if job.path:
            lines.append(f"Saved as {job.path}")
        if job.attempts > 1:
            lines.append(f"{job.attempts} attempts")
        return "\n".join(lines)

    def _sort_key(self, job: Job, column: Column) -> Any:
        if column is Column.NAME:
            return display_name(job).lower()
        if column is Column.HOST:
            return host_of(job.url)
        if column is Column.SIZE:
            return job.total if job.total is not None else -1
        if column is Column.PROGRESS:
            fraction = progress_of(job)
            return fraction if fraction is not None else -1.0
        if column is Column.SPEED:
            return job.speed if job.state is JobState.RUNNING else 0.0
        if column is Column.ETA:
            return job.eta if job.eta is not None else float("inf")
        if column is Column.ELAPSED:
            elapsed = elapsed_of(job, self._clock())
            return elapsed if elapsed is not None else -1.0
        if column is Column.STATE:
            return STATE_ORDER[job.state]
        if column is Column.PRIORITY:
            return job.priority
        if column is Column.ATTEMPTS:
            return job.attempts
        if column is Column.NEXT_TRY:
            return job.next_attempt_at if job.next_attempt_at is not None else float("inf")
        return (job.worker_pid or 0, job.worker_thread or "")

    # ---- feeding ----------------------------------------------------------------------------------------

    def apply(self, changes: Changes) -> list[Job]:
        """Fold in a batch of changes; returns the jobs that have just finished (done, failed, cancelled).

        Jobs that were already finished when the queue was restored at start-up are not among them."""
        restoring, self._restored = not self._restored, True
        self._remove(changes.removed)
        finished: list[Job] = []
        new: list[Job] = []
        touched: list[int] = []
        for job in changes.jobs:
            row = self._rows.get(job.id)
            if row is None:
                new.append(job)
                if job.state.finished and not restoring:
                    finished.append(job)
                continue
            if job.state.finished and not self._jobs[row].state.finished:
                finished.append(job)
            self._jobs[row] = job
            touched.append(row)
        for job in changes.jobs:
            (self._running.add if job.state in ACTIVE else self._running.discard)(job.id)
            (self._failed.add if failed_for_good(job) else self._failed.discard)(job.id)
        touched.extend(self._rows[i] for i in self._running if i in self._rows)  # their elapsed time ticks on
        for row in touched:
            self._texts.pop(row, None)
        if touched:
            self.dataChanged.emit(self.index(min(touched), 0), self.index(max(touched), len(Column) - 1))
        if new:
            new.sort(key=lambda job: job.id)  # ids grow in the order jobs were added; changes() is unordered
            first = len(self._jobs)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for offset, job in enumerate(new):
                self._jobs.append(job)
                self._rows[job.id] = first + offset
                self._urls[(job.url, job.dest_dir)] = job.id
            self.endInsertRows()
        return finished

    def _remove(self, job_ids: Iterable[int]) -> None:
        rows = sorted((self._rows[i] for i in set(job_ids) if i in self._rows), reverse=True)
        if not rows:
            return
        blocks: list[tuple[int, int]] = []  # (first, last), from the bottom up
        for row in rows:
            if blocks and blocks[-1][0] == row + 1:
                blocks[-1] = (row, blocks[-1][1])
            else:
                blocks.append((row, row))
        reset = len(blocks) > 50
        if reset:
            self.beginResetModel()
        for first, last in blocks:
            if not reset:
                self.beginRemoveRows(QModelIndex(), first, last)
            for job in self._jobs[first:last + 1]:
                self._forget_url(job)
                self._running.discard(job.id)
                self._failed.discard(job.id)
            del self._jobs[first:last + 1]
            if not reset:
                self._reindex()
                self.endRemoveRows()
        self._reindex()
        if reset:
            self.endResetModel()

    def _forget_url(self, job: Job) -> None:
        if self._urls.get((job.url, job.dest_dir)) == job.id:
            del self._urls[(job.url, job.dest_dir)]

    def _reindex(self) -> None:
        self._rows = {job.id: row for row, job in enumerate(self._jobs)}
        self._texts.clear()

    # ---- queries ----------------------------------------------------------------------------------------

    def job_at(self, row: int) -> Job | None:
        return self._jobs[row] if 0 <= row < len(self._jobs) else None

    def job(self, job_id: int) -> Job | None:
        row = self._rows.get(job_id)
        return self._jobs[row] if row is not None else None

    def row_of(self, job_id: int) -> int | None:
        return self._rows.get(job_id)

    def jobs(self) -> list[Job]:
        return list(self._jobs)

    def failed_jobs(self) -> list[Job]:
        """The jobs that failed for good and are not resolved, in table order."""
        return [self._jobs[row] for row in sorted(self._rows[i] for i in self._failed if i in self._rows)]

    def has_url(self, url: str, dest_dir: str) -> bool:
        """True when this URL is already in the list for this folder."""
        return (url, dest_dir) in self._urls

    def find(self, url: str, dest_dir: str) -> Job | None:
        """The job for this URL and folder, if it is in the list."""
        job_id = self._urls.get((url, dest_dir))
        return self.job(job_id) if job_id is not None else None

    def refresh_row(self, job_id: int) -> None:
        """Repaint one row (a thumbnail arrived)."""
        row = self._rows.get(job_id)
        if row is not None:
            self._texts.pop(row, None)
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))
