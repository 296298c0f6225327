"""The Failed view (dead-letter list): downloads that failed for good, their error history, and what to do."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine import protocol
from engine.jobs import Job
from gui.bridge import SessionBridge
from gui.failed_model import FailedColumn, FailedModel
from gui.jobs_model import JobsTableModel, display_name
from gui.messages import MessageHub

History = list[tuple[float, int, str]]
TAB_TITLE = "Failed downloads"
DEFAULT_EXPORT_NAME = "failed-urls.txt"
HINT = "Downloads that failed for good. Select one to see every attempt that failed."


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def history_text(job: Job, history: History | None) -> str:
    """What the history pane shows for a job: its name and URL, then every failed attempt, oldest first
    (None: the history is still being read)."""
    if history is None:
        lines = ["Reading the error history…"]
    else:
        lines = [f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(at))}  attempt {attempt}: {message}"
                 for at, attempt, message in history] or [f"No attempts recorded; last error: {job.error}"]
    return "\n".join([display_name(job), job.url, "", *lines])


class FailedView(QWidget):
    """The failed jobs with their error history, and Retry, Retry all, Mark resolved, Export URL list."""

    count_changed = Signal(int)

    def __init__(self, jobs_model: JobsTableModel, bridge: SessionBridge, hub: MessageHub,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("failed-view")
        self.jobs_model = jobs_model
        self.bridge = bridge
        self.hub = hub
        self.model = FailedModel(self)
        self._pool = QThreadPool(self)  # files are written off the UI thread
        self._pool.setMaxThreadCount(1)
        self._history_job: int | None = None

        self.table = QTableView()
        self.table.setObjectName("failed-table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(FailedColumn.ERROR, QHeaderView.ResizeMode.Stretch)
        metrics = self.fontMetrics()
        samples = {FailedColumn.NAME: "old-release-2024.iso", FailedColumn.ATTEMPTS: "Attempts",
                   FailedColumn.URL: "http://127.0.0.1:65535/files/"}
        for column, sample in samples.items():
            header.resizeSection(column, metrics.horizontalAdvance(sample) + 16)
        self.history = QPlainTextEdit()
        self.history.setObjectName("failed-history")
        self.history.setReadOnly(True)
        self.history.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.history.setPlaceholderText("The error history of the selected download")

        self.retry_button = self._button("Retry", "Queue the selected downloads again", self.retry_selected)
        self.retry_all_button = self._button("Retry all", "Queue every download in this list again",
                                             self.retry_all)
        self.resolve_button = self._button("Mark resolved", "Take the selected downloads off this list "
                                           "(they stay in the downloads table as failed)", self.mark_resolved)
        self.export_button = self._button("Export URL list…", "Save the URLs of this list to a .txt file, "
                                          "one per line", self.choose_export_file)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        hint = QLabel(HINT)
        hint.setWordWrap(True)  # a narrow window wraps it rather than growing past the screen
        top.addWidget(hint, 1)
        top.addStretch(1)
        for button in (self.retry_button, self.retry_all_button, self.resolve_button, self.export_button):
            top.addWidget(button)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("failed-splitter")
        split.setChildrenCollapsible(False)
        split.addWidget(self.table)
        split.addWidget(self.history)
        for pane in (self.table, self.history):  # two lines at least: the window fits 1024x640
            pane.setMinimumHeight(2 * self.table.verticalHeader().defaultSectionSize() + 8)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(split, 1)

        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.bridge.engine.history.connect(self._show_history)
        bridge.stats_changed.connect(self.refresh)
        self.refresh()

    def _button(self, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    # ---- what it shows ----------------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Bring the list in step with the jobs table (called on every bridge refresh; cheap when idle)."""
        before = self.model.rowCount()
        self.model.sync(self.jobs_model.failed_jobs())
        self._update_buttons()
        if self.model.rowCount() != before:
            self.count_changed.emit(self.model.rowCount())

    def jobs(self) -> list[Job]:
        return self.model.jobs()

    def selected_jobs(self) -> list[Job]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [job for row in rows if (job := self.model.job_at(row)) is not None]

    def _update_buttons(self) -> None:
        chosen, listed = self.table.selectionModel().hasSelection(), self.model.rowCount() > 0
        self.retry_button.setEnabled(chosen)
        self.resolve_button.setEnabled(chosen)
        self.retry_all_button.setEnabled(listed)
        self.export_button.setEnabled(listed)

    @Slot(QModelIndex, QModelIndex)
    def _current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        job = self.model.job_at(current.row()) if current.isValid() else None
        self._history_job = job.id if job else None
        if job is None:
            self.history.clear()
            return
        self.history.setPlainText(history_text(job, None))
        self.bridge.engine.ask_history(job.id)

    @Slot(object)
    def _show_history(self, answer: protocol.History) -> None:
        """The engine's answer to `ask_history`: shown if that job is still the one selected."""
        job_id, history = answer.job_id, list(answer.entries)
        job = next((j for j in self.model.jobs() if j.id == job_id), None)
        if job is not None and job_id == self._history_job:
            self.history.setPlainText(history_text(job, history))

    # ---- what it does -----------------------------------------------------------------------------------

    @Slot()
    def retry_selected(self) -> None:
        self._retry(self.selected_jobs())

    @Slot()
    def retry_all(self) -> None:
        self._retry(self.jobs())

    def _retry(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        for job in jobs:
            self.bridge.engine.retry_failed(job.id)
        later = "" if self.bridge.started else " — press Start (F5) to download"
        self.hub.info(f"Queued {plural(len(jobs), 'failed download')} again{later}")

    @Slot()
    def mark_resolved(self) -> None:
        jobs = self.selected_jobs()
        for job in jobs:
            self.bridge.engine.mark_resolved(job.id)

    @Slot()
    def choose_export_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the failed URLs",
                                              str(Path.home() / DEFAULT_EXPORT_NAME),
                                              "URL lists (*.txt);;All files (*)")
        if path:
            self.export_to(path if Path(path).suffix else f"{path}.txt")

    def export_to(self, path: str) -> None:
        """Write the list's URLs to `path`, one per line, off the UI thread; the hub says how it went."""
        urls = [job.url for job in self.jobs()]
        self._pool.start(lambda: self._write(path, urls))

    def _write(self, path: str, urls: list[str]) -> None:
        try:
            Path(path).write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")
        except OSError as exc:
            self.hub.error(f"Could not export the URL list to {path}: {exc.strerror or exc}")
            return
        self.hub.info(f"Exported {plural(len(urls), 'URL')} to {path}")


def install_failed_tab(tabs: QTabWidget, view: FailedView, toggle: QAction) -> None:
    """Add the view as a tab after the messages; `toggle` brings it forward and back, and counts its rows."""
    index = tabs.addTab(view, TAB_TITLE)
    toggle.toggled.connect(lambda on: tabs.setCurrentIndex(index if on else 0))
    tabs.currentChanged.connect(lambda current: toggle.setChecked(current == index))
    short = toggle.iconText()

    def counted(count: int) -> None:
        tabs.setTabText(index, f"{TAB_TITLE} ({count})" if count else TAB_TITLE)
        toggle.setIconText(f"{short} ({count})" if count else short)

    view.count_changed.connect(counted)
    counted(view.model.rowCount())
