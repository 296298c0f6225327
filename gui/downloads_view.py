"""The downloads table view: sorting through a proxy, the progress delegate, and the per-job context menu."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSortFilterProxyModel,
    Qt,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QContextMenuEvent, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QWidget

from engine.jobs import Job, JobState
from gui.bridge import SessionBridge
from gui.cell_delegate import CellDelegate
from gui.fast_table import FastTableView
from gui.jobs_model import HEADERS, JOB_ROLE, SORT_ROLE, Column, JobsTableModel
from gui.messages import MessageHub
from gui.progress_delegate import ProgressDelegate

MenuEntry = tuple[str, Callable[[], None]]
COLUMN_SAMPLES = {  # each column starts as wide as its widest usual text
    Column.HOST: "127.0.0.1:65535", Column.SIZE: "999.9 MiB", Column.PROGRESS: "100%  100%",
    Column.SPEED: "999.9 KiB/s", Column.ETA: "99:99", Column.ELAPSED: "Elapsed", Column.STATE: "cancelled",
    Column.PRIORITY: "Priority", Column.ATTEMPTS: "Attempts", Column.NEXT_TRY: "Next try",
    Column.WORKER: "99999 / MainThread",
}
WAITING = (JobState.QUEUED, JobState.PAUSED)  # the jobs whose priority decides when they start
# Twelve columns do not fit beside the monitor at 1280 px: these start hidden (the header's menu shows them);
# each row's tooltip has the URL, host included.
HIDDEN_AT_FIRST = (Column.HOST, Column.ELAPSED)


class DownloadsView(FastTableView):
    """Shows the jobs; `context_entries` is the context menu as plain (label, callable) pairs."""

    current_job_changed = Signal(object)  # Job | None

    def __init__(self, model: JobsTableModel, bridge: SessionBridge, hub: MessageHub,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("downloads")
        self.jobs_model = model
        self.bridge = bridge
        self.hub = hub
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setDynamicSortFilter(False)  # live re-sorting only while a sort column is chosen
        self.setModel(self.proxy)
        self.setItemDelegate(CellDelegate(self))
        self.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.verticalHeader().hide()
        # a scroll bar that appears once the list outgrows the view would narrow every column mid-run and
        # repaint every row: keep it there from the start
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setSortIndicatorClearable(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        header.sortIndicatorChanged.connect(self._sort_changed)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        metrics = self.fontMetrics()
        for column, sample in COLUMN_SAMPLES.items():
            extra = 30 if column is Column.STATE else 14  # the state icon
            header.resizeSection(column, metrics.horizontalAdvance(sample) + extra)
        header.setHighlightSections(False)
        for column in HIDDEN_AT_FIRST:
            self.setColumnHidden(column, True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._show_column_menu)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.DefaultContextMenu)
        self.selectionModel().selectionChanged.connect(self._selection_changed)
        self.doubleClicked.connect(lambda index: self._open_file(self._job_at_view(index.row())))

    def dataChanged(self, top_left: QModelIndex | QPersistentModelIndex,
                    bottom_right: QModelIndex | QPersistentModelIndex, roles: Sequence[int] = ()) -> None:
        """Repaint only the changed rows that are on screen (Qt repaints the whole viewport otherwise).

        The bridge sends one dataChanged per tick for rows min..max; in a long list most of them are
        scrolled away, and repainting every visible cell ten times a second is the window's biggest cost.
        """
        first = self.rowAt(0)
        if first < 0:
            return
        last = self.rowAt(self.viewport().height() - 1)
        last = last if last >= 0 else self.proxy.rowCount() - 1
        top, bottom = max(top_left.row(), first), min(bottom_right.row(), last)
        if top > bottom:
            return
        upper = self.visualRect(self.proxy.index(top, 0))
        lower = self.visualRect(self.proxy.index(bottom, 0))
        self.schedule_update(QRect(0, upper.top(), self.viewport().width(), lower.bottom() - upper.top() + 1))

    @Slot(int, Qt.SortOrder)
    def _sort_changed(self, section: int, order: Qt.SortOrder) -> None:
        """Keep a sorted table sorted as values change; unsorted, the proxy just passes changes through.

        A proxy that re-sorts and re-filters looks at every changed row of every refresh, calling the
        Python model for each; with no sort column there is nothing to gain from it.
        """
        self.proxy.setDynamicSortFilter(section >= 0)
        if section < 0:
            self.proxy.sort(-1)

    def column_menu(self) -> QMenu:
        """The header's menu: one checkable entry per column (but Name) that shows or hides it."""
        menu = QMenu(self)
        for column in Column:
            if column is Column.NAME:
                continue
            action = menu.addAction(HEADERS[column])
            action.setCheckable(True)
            action.setChecked(not self.isColumnHidden(column))
            action.toggled.connect(lambda shown, column=column: self.setColumnHidden(column, not shown))
        return menu

    @Slot(QPoint)
    def _show_column_menu(self, pos: QPoint) -> None:
        menu = self.column_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.exec(self.horizontalHeader().mapToGlobal(pos))

    def row_values(self, row: int) -> list[Any] | None:
        """The delegates' values for a row of the view, read from the model without Qt in between."""
        source = self.proxy.mapToSource(self.proxy.index(row, 0)).row()
        return self.jobs_model.row_values(source) if source >= 0 else None

    # ---- selection --------------------------------------------------------------------------------------

    def _job_at_view(self, row: int) -> Job | None:
        job: Job | None = self.proxy.index(row, 0).data(JOB_ROLE)
        return job

    def selected_jobs(self) -> list[Job]:
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        jobs = [self._job_at_view(row) for row in rows]
        return [self.jobs_model.job(j.id) or j for j in jobs if j is not None]

    def select_job(self, job_id: int) -> None:
        row = self.jobs_model.row_of(job_id)
        if row is not None:
            self.selectRow(self.proxy.mapFromSource(self.jobs_model.index(row, 0)).row())

    @Slot(QItemSelection, QItemSelection)
    def _selection_changed(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        jobs = self.selected_jobs()
        self.current_job_changed.emit(jobs[0] if len(jobs) == 1 else None)

    # ---- the context menu -------------------------------------------------------------------------------

    def context_entries(self, jobs: list[Job] | None = None) -> list[MenuEntry]:
        """What the context menu offers for these jobs (default: the selection), in order."""
        jobs = self.selected_jobs() if jobs is None else jobs
        if not jobs:
            return []
        entries: list[MenuEntry] = []
        engine = self.bridge.engine
        done = [j for j in jobs if j.state is JobState.DONE and j.path]
        if len(done) == 1:
            entries.append(("Open file", lambda: self._open_file(done[0])))
        entries.append(("Open folder", lambda: self._open_folder(jobs[0])))
        copy_label = "Copy URL" if len(jobs) == 1 else f"Copy {len(jobs)} URLs"
        entries.append((copy_label, lambda: self._copy_urls(jobs)))
        ids = [j.id for j in jobs]
        if any(j.state in (JobState.QUEUED, JobState.RUNNING) for j in jobs):
            entries.append(("Pause", lambda: self._each(ids, engine.pause)))
        if any(j.state is JobState.PAUSED for j in jobs):
            entries.append(("Resume", lambda: self._each(ids, engine.resume)))
        if any(not j.state.finished for j in jobs):
            entries.append(("Cancel", lambda: self._each(ids, engine.cancel)))
        if any(j.state in (JobState.FAILED, JobState.CANCELLED) for j in jobs):
            entries.append(("Retry", lambda: self._each(ids, engine.retry_failed)))
        if any(j.state in WAITING for j in jobs):
            entries.append(("Raise priority", lambda: self.shift_priority(1, jobs)))
            entries.append(("Lower priority", lambda: self.shift_priority(-1, jobs)))
        entries.append(("Remove", lambda: self._each(ids, engine.remove)))
        return entries

    def shift_priority(self, step: int, jobs: list[Job] | None = None) -> None:
        """Raise (step > 0) or lower the priority of the waiting ones among these jobs (or the selection)."""
        jobs = self.selected_jobs() if jobs is None else jobs
        waiting = [j for j in jobs if j.state in WAITING]
        if not waiting:
            if jobs:
                self.hub.info("Priority orders the downloads that wait to start: pick queued or paused ones")
            return
        for job in waiting:
            self.bridge.engine.set_priority(job.id, job.priority + step)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        index = self.indexAt(event.pos())
        if index.isValid() and not self.selectionModel().isRowSelected(index.row(), index.parent()):
            self.selectRow(index.row())
        entries = self.context_entries()
        if not entries:
            return
        menu = QMenu(self)
        for label, run in entries:
            if label in ("Pause", "Remove"):
                menu.addSeparator()
            menu.addAction(label, run)
        menu.exec(event.globalPos())

    def _each(self, job_ids: list[int], command: Callable[[int], None]) -> None:
        for job_id in job_ids:
            command(job_id)

    def _open_file(self, job: Job | None) -> None:
        if job is None or job.state is not JobState.DONE or not job.path:
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(job.path)):
            self.hub.error(f"Could not open {job.path}: no application is set up for this kind of file")

    def _open_folder(self, job: Job) -> None:
        folder = str(Path(job.path).parent) if job.path else job.dest_dir
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(folder)):
            self.hub.error(f"Could not open the folder {folder}")

    def _copy_urls(self, jobs: list[Job]) -> None:
        QGuiApplication.clipboard().setText("\n".join(j.url for j in jobs))
        self.hub.info(f"Copied {len(jobs)} URL{'s' if len(jobs) != 1 else ''} to the clipboard")
