"""The main window: assembles the panels, routes every add through one place, and closes without orphans."""

from __future__ import annotations

import os

from PySide6.QtCore import QMargins, QSettings, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.events import RetryPolicy
from engine.host import HostConfig
from engine.jobs import Job, JobState
from engine.modes import MODES
from engine.pipeline import CHOICES, download_mode, stage_for
from engine.protocol import SessionStats
from engine.sources import ParsedInput, parse_text
from engine.terminal import format_duration
from engine.transfer import human_bytes
from gui.actions import build_menus, build_toolbar, create_actions
from gui.bridge import SessionBridge
from gui.compare_view import CompareLauncher
from gui.downloads_view import DownloadsView
from gui.engine_link import EngineLink
from gui.failed_view import FailedView, install_failed_tab
from gui.input_panel import InputPanel
from gui.jobs_model import JobsTableModel, display_name
from gui.messages import INFO, WARNING, Message, MessageHub, MessagesPanel
from gui.monitor_panel import MonitorPanel
from gui.notifier import Notifier
from gui.pipeline_stage import WindowPipeline
from gui.preview_pane import PreviewPane
from gui.probe_suggestion import ProbeSuggester
from gui.status_bar import StatusBar
from gui.thumbnails import ThumbnailCache
from gui.url_input import MAX_DETAILS, UrlIntake, add_report
from gui.window_state import WindowState

RETRYABLE = (JobState.FAILED, JobState.CANCELLED)
FAILURES_ONE_BY_ONE = 3
CLOSE_WATCHDOG_MS = 20_000
FIRST_SIZE = (1280, 800)  # the window at its first start, when the screen has room for it
FRAME_ALLOWANCE = QMargins(8, 40, 8, 8)  # what a window manager adds around it: borders, the title bar
FAILED_HEIGHT = 260  # pixels of the bottom area while the Failed list is in front



class MainWindow(QMainWindow):
    """Parafetch's window. Set `confirm_close = False` (or PARAFETCH_NO_CONFIRM=1) to close without asking."""

    shut_down = Signal()

    def __init__(self, settings: QSettings | None = None, hub: MessageHub | None = None,
                 mode: str | None = None, workers: int | None = None,
                 data_dir: str | os.PathLike[str] | None = None) -> None:
        """The downloads run in an engine host process of their own. With a data folder the engine keeps
        the queue there and it comes back at the next start; without one it is forgotten."""
        super().__init__()
        self.setWindowTitle("Parafetch")
        self.setObjectName("main-window")
        self.setAcceptDrops(True)
        self.confirm_close = os.environ.get("PARAFETCH_NO_CONFIRM", "") not in ("1", "true", "yes")
        self.is_shut_down = False
        self.hub = hub or MessageHub(self)
        self.state = WindowState(settings or QSettings())
        picked = mode if mode in CHOICES else self.state.mode()  # a mode, or the pipeline
        mode = download_mode(picked)
        pool = self._pool_size(mode, workers)
        self.engine = EngineLink(HostConfig(mode, pool, RetryPolicy(),
                                            os.fspath(data_dir) if data_dir is not None else None,
                                            os.getpid(), stage_for(picked)), self)
        self.model = JobsTableModel(self, max_attempts=self.engine.retry.attempts)
        self.bridge = SessionBridge(self.engine, self.model, self)
        self.thumbnails = ThumbnailCache(self)
        self.model.thumbnail = self.thumbnails.icon
        self.intake = UrlIntake(self)
        self._was_active = False
        self._before_run: SessionStats | None = None  # the last tick before the current run began
        self._closing = False
        self._sent: set[tuple[str, str]] = set()  # (url, folder) added, whose rows the engine has yet to send

        self.input = InputPanel()
        self.input.set_mode(picked)
        self.input.set_workers(pool or self.state.workers(mode))
        self.input.set_folder(self.state.folder(self.input.folder()))
        self.view = DownloadsView(self.model, self.bridge, self.hub)
        self.monitor = MonitorPanel()
        self.preview = PreviewPane()
        self.messages = MessagesPanel(self.hub)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.notifier = Notifier(self.status, self)
        self.commands = create_actions(self)
        build_menus(self, self.commands)
        self.toolbar = build_toolbar(self, self.commands)
        self.failed = FailedView(self.model, self.bridge, self.hub)
        self._lay_out()
        self._connect()
        self.pipeline = WindowPipeline(self.bridge, self.hub, self.thumbnails, self)
        self.input.pipeline_changed.connect(self.pipeline.set_enabled)
        self.suggester = ProbeSuggester(self.model, self.input, self.bridge, self)
        self.compare = CompareLauncher(self, self.model, self.input, self.bridge, self.pipeline)
        self.state.restore(self)
        self.bridge.start()

    def _make_room_for_failed(self, index: int) -> None:
        """Bringing the Failed list forward grows the bottom area so its table and history are readable."""
        top, bottom = self.main_splitter.sizes()
        if self.bottom_tabs.widget(index) is self.failed and bottom < FAILED_HEIGHT:
            self.main_splitter.setSizes([top + bottom - FAILED_HEIGHT, FAILED_HEIGHT])

    def _pool_size(self, mode: str, workers: int | None) -> int | None:
        if not MODES[mode].resizable:
            return None
        return workers or self.state.workers(mode)

    def _lay_out(self) -> None:
        self.work_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.work_splitter.setObjectName("work-splitter")
        self.work_splitter.addWidget(self.view)
        self.work_splitter.addWidget(self.monitor)
        self.work_splitter.setStretchFactor(0, 1)
        self.work_splitter.setStretchFactor(1, 0)
        self.bottom_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.bottom_splitter.setObjectName("bottom-splitter")
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.setObjectName("bottom-tabs")
        self.bottom_tabs.setDocumentMode(True)
        self.bottom_tabs.addTab(self.messages, "Messages")
        install_failed_tab(self.bottom_tabs, self.failed, self.commands.show_failed)
        self.bottom_splitter.addWidget(self.bottom_tabs)
        self.bottom_splitter.addWidget(self.preview)
        self.bottom_splitter.setStretchFactor(0, 1)
        self.bottom_splitter.setStretchFactor(1, 0)
        self.main_splitter = QSplitter(Qt.Orientation.Vertical)
        self.main_splitter.setObjectName("main-splitter")
        self.main_splitter.addWidget(self.work_splitter)
        self.main_splitter.addWidget(self.bottom_splitter)
        self.main_splitter.setStretchFactor(0, 1)
        self.main_splitter.setStretchFactor(1, 0)
        for splitter in (self.work_splitter, self.bottom_splitter, self.main_splitter):
            splitter.setChildrenCollapsible(False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(2)
        layout.addWidget(self.input)
        layout.addWidget(self.main_splitter, 1)
        self.setCentralWidget(central)
        self._fit_first_size()
        self.work_splitter.setSizes([880, 400])
        self.main_splitter.setSizes([500, 124])  # the bottom panes near their least: more for the monitor
        self.bottom_splitter.setSizes([880, 400])

    def _fit_first_size(self) -> None:
        """FIRST_SIZE where it fits with the window's frame; on a smaller screen, maximized, so that no
        part of the window (the status bar first) lands below the screen's edge. The size the person
        left the window at comes back over this (WindowState.restore)."""
        wanted = QSize(*FIRST_SIZE)
        with_frame = wanted.grownBy(FRAME_ALLOWANCE)
        screen = self.screen() or QGuiApplication.primaryScreen()
        room = screen.availableGeometry().size() if screen is not None else with_frame
        if with_frame.boundedTo(room) == with_frame:  # it fits
            self.resize(wanted)
            return
        self.resize(wanted.boundedTo(room.shrunkBy(FRAME_ALLOWANCE)))
        self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)

    def _connect(self) -> None:
        a = self.commands
        self.bottom_tabs.currentChanged.connect(self._make_room_for_failed)
        a.start.triggered.connect(self.start)
        a.pause_all.triggered.connect(lambda: self.engine.pause())
        a.resume_all.triggered.connect(lambda: self.engine.resume())
        a.cancel_all.triggered.connect(lambda: self.engine.cancel())
        a.retry_failed.triggered.connect(lambda: self.engine.retry_failed())
        a.clear_finished.triggered.connect(self.engine.clear_finished)
        a.restart_engine.triggered.connect(self.restart_engine)
        a.raise_priority.triggered.connect(lambda: self.view.shift_priority(1))
        a.lower_priority.triggered.connect(lambda: self.view.shift_priority(-1))
        a.paste_urls.triggered.connect(self.add_from_clipboard)
        a.import_list.triggered.connect(self.choose_lists)
        a.quit.triggered.connect(self.close)
        self.input.add_requested.connect(self.add_from_box)
        self.input.import_requested.connect(self.choose_lists)
        self.input.mode_changed.connect(self.change_mode)
        self.input.workers_changed.connect(self.change_workers)
        self.intake.parsed.connect(self.add_parsed)
        self.hub.posted.connect(self._show_message)
        self.bridge.stats_changed.connect(self._stats_changed)
        self.bridge.sample_ready.connect(self.monitor.show_sample)
        self.bridge.sample_listeners.append(self.monitor.record)
        self.bridge.jobs_finished.connect(self._jobs_finished)
        self.bridge.engine_died.connect(self._engine_died)
        self.engine.refused.connect(self.hub.warning)
        self.engine.note.connect(lambda level, text: self.hub.post(level, text))
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.view.current_job_changed.connect(self._show_preview)

    # ---- adding URLs --------------------------------------------------------------------------------------

    def add_text(self, text: str, source: str = "Paste") -> None:
        self.intake.from_text(text, source)

    @Slot(str)
    def add_from_box(self, text: str) -> None:
        """Add from the paste box; the box is emptied when everything in it was taken."""
        parsed = parse_text(text)
        self.add_parsed(parsed, "Paste")
        if parsed.entries and not parsed.rejected:
            self.input.paste_box.clear()

    @Slot()
    def add_from_clipboard(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not self.intake.from_mime(mime, "Clipboard"):
            self.hub.warning("The clipboard holds no text or links to add")

    @Slot()
    def choose_lists(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Import URL lists", self.state.last_list_folder(),
            "URL lists (*.txt *.list *.lst *.urls);;All files (*)")
        if paths:
            self.state.set_last_list_folder(os.path.dirname(paths[0]))
            self.import_lists(paths)

    def import_lists(self, paths: list[str]) -> None:
        """File > Import list: read the files off the UI thread, then add what they hold."""
        self.intake.from_files(paths, "Import")

    @Slot(object, str)
    def add_parsed(self, parsed: ParsedInput, source: str) -> None:
        """The one place where parsed input becomes jobs, and the person is told what happened."""
        folder = os.path.abspath(self.input.folder())  # as the engine keeps it
        self._sent = {key for key in self._sent if not self.model.has_url(*key)}  # those now have rows

        def listed(url: str) -> bool:
            return self.model.has_url(url, folder) or (url, folder) in self._sent

        fresh = [e for e in parsed.entries if not listed(e.url)]
        known = [e for e in parsed.entries if listed(e.url)]
        again = [e for e in known if (job := self.model.find(e.url, folder)) and job.state in RETRYABLE]
        if fresh or again:
            self.engine.add(fresh + again, folder)  # the engine queues failed and cancelled ones again
            self._sent.update((e.url, folder) for e in fresh)
        text, details = add_report(source, parsed, len(fresh), [e.url for e in known if e not in again],
                                   len(again))
        if (fresh or again) and not self.bridge.started:
            text += " — press Start (F5) to download"
        self.hub.post(WARNING if parsed.rejected or not (fresh or again) else INFO, text, details)

    # ---- drops --------------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if UrlIntake.can_accept(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if UrlIntake.can_accept(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.intake.from_mime(event.mimeData(), "Drop"):
            event.acceptProposedAction()

    # ---- running ------------------------------------------------------------------------------------------

    @Slot()
    def start(self) -> None:
        self.bridge.start_session()

    @Slot(str)
    def change_mode(self, mode: str) -> None:
        if mode == self.engine.mode:
            return
        workers = self.state.workers(mode)
        try:
            self.engine.set_mode(mode, workers if MODES[mode].resizable else None)
        except ValueError as exc:
            self.hub.warning(f"The mode stays {MODES[self.engine.mode].label}: {exc}")
            self.input.mode_box.blockSignals(True)
            self.input.set_mode(self.engine.mode)
            self.input.mode_box.blockSignals(False)
            return
        self.input.workers_box.blockSignals(True)
        self.input.set_workers(workers)
        self.input.workers_box.blockSignals(False)
        self.state.set_mode(mode)
        size = f", {workers} workers" if MODES[mode].resizable else ""
        self.hub.info(f"Mode: {MODES[mode].label}{size}")

    @Slot(int)
    def change_workers(self, workers: int) -> None:
        mode = self.engine.mode
        if not MODES[mode].resizable:
            return
        self.state.set_workers(mode, workers)
        self.engine.set_workers(workers)
        self.status.say(f"{MODES[mode].label}: {workers} workers")

    # ---- refresh ------------------------------------------------------------------------------------------

    @Slot(object)
    def _stats_changed(self, stats: SessionStats) -> None:
        elapsed = self.bridge.clock.elapsed()
        self.status.show_stats(stats, elapsed)
        self.monitor.show_stats(stats, MODES[stats.mode].label)
        if self.preview.job_id is not None:
            self.preview.show_caption(self.model.job(self.preview.job_id))
        a = self.commands
        a.start.setEnabled(stats.queued > 0 or not self.bridge.started)
        a.pause_all.setEnabled(stats.queued + stats.running > 0)
        a.resume_all.setEnabled(stats.paused > 0)
        a.cancel_all.setEnabled(stats.queued + stats.running + stats.paused > 0)
        a.retry_failed.setEnabled(stats.failed + stats.cancelled > 0)
        a.clear_finished.setEnabled(stats.finished > 0)
        self.input.set_mode_locked(stats.running > 0, "The mode cannot change while downloads run")
        active = self.bridge.is_active
        if self._was_active and not active and stats.paused == 0 and stats.total:
            before = self._before_run
            done = stats.done - (before.done if before else 0)
            failed = stats.failed - (before.failed if before else 0)
            moved = stats.bytes_done - (before.bytes_done if before else 0)
            summary = (f"{done} done, {failed} failed, {human_bytes(max(0, moved))} in "
                       f"{format_duration(elapsed)} ({MODES[stats.mode].label})")
            self.hub.info(f"Run finished: {summary}")
            self.notifier.run_finished(summary)
        if not active:
            self._before_run = stats
        self._was_active = active

    @Slot(list)
    def _jobs_finished(self, jobs: list[Job]) -> None:
        failed = [j for j in jobs if j.state is JobState.FAILED]
        if not self.pipeline.enabled:  # the pipeline's stage makes the thumbnails of what it downloads
            for job in jobs:
                self.thumbnails.request(job)  # only finished images are loaded
        if not failed:
            return
        if self.bridge.started:  # not the failures of an earlier run, restored from the store
            self.notifier.jobs_failed(failed)
        if len(failed) <= FAILURES_ONE_BY_ONE:
            for job in failed:
                self.hub.error(f"Failed: {display_name(job)} — {job.error}", [job.url])
        else:
            self.hub.error(f"{len(failed)} downloads failed",
                           [f"{j.url}: {j.error}" for j in failed[:MAX_DETAILS]])

    @Slot(int)
    def _thumbnail_ready(self, job_id: int) -> None:
        self.model.refresh_row(job_id)
        if self.preview.job_id == job_id:
            self.preview.show_job(self.model.job(job_id), self.thumbnails.image(job_id))

    @Slot(object)
    def _show_preview(self, job: Job | None) -> None:
        if job is not None:
            self.thumbnails.request(job)
        self.preview.show_job(job, self.thumbnails.image(job.id) if job else None)

    @Slot(object)
    def _show_message(self, message: Message) -> None:
        self.status.say(message.text)

    def bring_to_front(self) -> None:
        """Another Parafetch was started on this data folder: show this window instead."""
        if self.isMinimized():
            self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.show()
        self.raise_()
        self.activateWindow()
        self.status.say("Parafetch is already open on this data folder: here it is")

    # ---- closing ------------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.is_shut_down:
            event.accept()
            return
        event.ignore()
        if self._closing:
            return
        if self.bridge.is_active and self.confirm_close and not self._ask_to_stop():
            return
        self._closing = True
        self.state.save(self, self.input.mode(), self.input.folder())
        self.setEnabled(False)
        self.status.say("Stopping downloads…")
        self.bridge.shutdown_finished.connect(self._finish_close)
        self.bridge.shutdown_async()
        QTimer.singleShot(CLOSE_WATCHDOG_MS, self._finish_close)

    def _ask_to_stop(self) -> bool:
        stats = self.bridge.stats
        answer = QMessageBox.question(
            self, "Downloads are running",
            f"{stats.running} download{'s are' if stats.running != 1 else ' is'} running and {stats.queued} "
            "queued. Stop them and close Parafetch?",
            QMessageBox.StandardButton.Close | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Close

    @Slot()
    def _finish_close(self) -> None:
        if self.is_shut_down:
            return
        self.is_shut_down = True
        self.thumbnails.wait(1000)
        self.shut_down.emit()
        self.close()

    def shut_down_now(self, timeout: float = 2.0) -> None:
        """Stop the engine (it saves the queue) and wait: the app quits without closing the window."""
        self.bridge.close(timeout)
        self._finish_close()

    # ---- the engine's life ---------------------------------------------------------------------------------

    @Slot(str)
    def _engine_died(self, why: str) -> None:
        """Say so, and offer a restart: the new engine resumes every unfinished download from the queue."""
        self.commands.restart_engine.setEnabled(True)
        self.hub.error(f"{why}: the downloads stopped. Downloads > Restart the download engine "
                       "(Ctrl+Shift+E) resumes them.")

    @Slot()
    def restart_engine(self) -> None:
        if not self.engine.ended:
            return
        self.commands.restart_engine.setEnabled(False)
        self.bridge.restart()
        self.hub.info("The download engine started again")
