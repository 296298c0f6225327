"""The Compare view: the window's URLs run in each chosen mode, a live table and charts, a recommendation."""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine import protocol
from engine.compare import ComparisonReport, ModeRun
from engine.compare_cli import write_csv
from engine.jobs import Job
from engine.modes import MODES
from engine.monitor import MonitorSample
from engine.pipeline import CHOICES, PIPELINE
from engine.recommend import recommend
from engine.sources import UrlEntry, parse_text
from gui.bridge import SessionBridge
from gui.compare_charts import CompareCharts
from gui.compare_model import CompareModel
from gui.compare_runner import ComparisonRunner
from gui.input_panel import InputPanel, mode_label
from gui.jobs_model import JobsTableModel
from gui.pipeline_stage import WindowPipeline

DEFAULT_WORKERS = 8
MAX_WORKERS = 256
MAX_REPEATS = 20

Entries = Callable[[], list[UrlEntry]]
Busy = Callable[[], str | None]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 'es' if word.endswith('s') else 's'}"


def recommendation_text(report: ComparisonReport) -> str:
    """The recommendation in plain sentences (rich text): what to use, then why, with the measured numbers."""
    advice = recommend(report)
    label = mode_label(advice.mode)
    stage = f" Post-processing belongs in {advice.stage}." if advice.stage else ""
    return (f"<b>Recommended: {label[:1].lower() + label[1:]} with {_plural(advice.workers, 'worker')}."
            f"{stage}</b><br>{html.escape(advice.reason)}")


class CompareDialog(QDialog):
    """Pick modes, workers and repeats, then Run: one mode at a time on a background thread, each row and
    bar added as its mode finishes. `save_csv(path)` and `save_png(path)` export without a file dialog."""

    def __init__(self, entries: Entries, busy: Busy, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare the modes — Parafetch")
        self.setObjectName("compare-view")
        self._entries_source, self._busy = entries, busy
        self.entries: list[UrlEntry] = []
        self.modes: list[str] = []
        self.report: ComparisonReport | None = None
        self.runner = ComparisonRunner(self)
        self.runner.mode_finished.connect(self._mode_finished)
        self.runner.sampled.connect(self._sampled)
        self.runner.finished.connect(self._finished)
        self.runner.failed.connect(self._failed)

        self.source = QLabel()
        self.source.setObjectName("compare-source")
        reload = QPushButton("Reload URLs")
        reload.setToolTip("Take the window's URLs again (or the paste box's, when the list is empty)")
        reload.clicked.connect(self.reload)
        self.mode_checks: dict[str, QCheckBox] = {}
        modes_row = QHBoxLayout()
        modes_row.addWidget(QLabel("Modes:"))
        for mode in CHOICES:
            check = QCheckBox(mode_label(mode))
            check.setChecked(mode != PIPELINE)
            check.setObjectName(f"compare-mode-{mode}")
            self.mode_checks[mode] = check
            modes_row.addWidget(check)
        modes_row.addStretch(1)
        self.workers_box = QSpinBox()
        self.workers_box.setRange(1, MAX_WORKERS)
        self.workers_box.setValue(DEFAULT_WORKERS)
        self.workers_box.setToolTip("Pool size for the pools and the pipeline's downloads; sequential uses 1 "
                                    "and the one-per-URL modes one worker per file")
        self.repeat_box = QSpinBox()
        self.repeat_box.setRange(1, MAX_REPEATS)
        self.repeat_box.setToolTip("Run each mode K times; the table shows the median and (min–max)")
        self.run_button = QPushButton("Run comparison")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QLabel()
        self.progress.setObjectName("compare-progress")
        settings_row = QHBoxLayout()
        settings_row.addWidget(self.source)
        settings_row.addWidget(reload)
        settings_row.addSpacing(16)
        settings_row.addWidget(QLabel("Workers:"))
        settings_row.addWidget(self.workers_box)
        settings_row.addWidget(QLabel("Repeats (K):"))
        settings_row.addWidget(self.repeat_box)
        settings_row.addSpacing(16)
        settings_row.addWidget(self.run_button)
        settings_row.addWidget(self.cancel_button)
        settings_row.addStretch(1)

        self.model = CompareModel()
        self.table = QTableView()
        self.table.setObjectName("compare-table")
        self.table.setModel(self.model)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStyleSheet("QHeaderView::section { padding: 3px 12px; }")  # room between the numbers
        rows = len(MODES) + 1  # room for every mode and the pipeline, no more
        self.table.setFixedHeight(header.sizeHint().height() + rows * self.table.verticalHeader()
                                  .defaultSectionSize() + 2 * self.table.frameWidth())
        self.charts = CompareCharts()
        self.recommendation = QLabel("Run the comparison to get a recommendation for this list.")
        self.recommendation.setObjectName("compare-recommendation")
        self.recommendation.setWordWrap(True)
        self.recommendation.setTextFormat(Qt.TextFormat.RichText)
        self.recommendation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.recommendation.setFrameShape(QFrame.Shape.StyledPanel)
        self.recommendation.setMargin(8)
        self.csv_button = QPushButton("Save CSV…")
        self.csv_button.clicked.connect(self.choose_csv)
        self.png_button = QPushButton("Save chart PNG…")
        self.png_button.clicked.connect(self.choose_png)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.csv_button)
        buttons.addWidget(self.png_button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addLayout(settings_row)
        layout.addLayout(modes_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.table)
        layout.addWidget(self.charts, 1)
        layout.addWidget(self.recommendation)
        layout.addLayout(buttons)
        self.resize(1280, 800)
        self.reload()
        self._set_running(False)

    # ---- running ------------------------------------------------------------------------------------------

    @Slot()
    def reload(self) -> None:
        """Take the window's URLs again."""
        self.entries = self._entries_source()
        self.source.setText(f"{len(self.entries)} URL{'s' if len(self.entries) != 1 else ''} "
                            "from the window")

    def chosen_modes(self) -> list[str]:
        return [mode for mode, check in self.mode_checks.items() if check.isChecked()]

    @Slot()
    def run(self) -> bool:
        """Start the comparison with the chosen settings; False (and why, under the settings) if it cannot."""
        if self.runner.running:
            return False
        self.reload()
        self.modes = self.chosen_modes()
        why = self._busy()
        if not self.entries:
            why = "Add URLs to the window's list (or its paste box) first."
        elif not self.modes:
            why = "Choose at least one mode."
        if why:
            self.progress.setText(why)
            return False
        self.report = None
        self.model.clear()
        self.charts.set_runs([])
        self.recommendation.setText("The recommendation follows when every mode has run.")
        self.runner.start(self.entries, self.modes, self.workers_box.value(), self.repeat_box.value())
        self._set_running(True)
        self._show_progress(self.modes[0], None)
        return True

    @Slot()
    def cancel(self) -> None:
        if self.runner.running:
            self.progress.setText("Cancelling: ending the current run's workers…")
            self.cancel_button.setEnabled(False)
            self.runner.cancel()

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for widget in (*self.mode_checks.values(), self.workers_box, self.repeat_box):
            widget.setEnabled(not running)
        has_rows = bool(self.model.runs) and not running
        self.csv_button.setEnabled(has_rows)
        self.png_button.setEnabled(has_rows)

    def _show_progress(self, mode: str, sample: MonitorSample | None) -> None:
        step = f"{len(self.model.runs) + 1} of {len(self.modes)}"
        repeats = self.repeat_box.value()
        times = f", {repeats} times" if repeats > 1 else ""
        now = (f": {_plural(sample.processes, 'process')}, {_plural(sample.threads, 'thread')}"
               if sample is not None else "")
        self.progress.setText(f"Running {mode_label(mode)} ({step}{times}) on "
                              f"{len(self.entries)} URLs{now}…")

    @Slot(object)
    def _mode_finished(self, run: ModeRun) -> None:
        self.model.append(run)
        self.charts.set_runs(self.model.runs)
        if len(self.model.runs) < len(self.modes):
            self._show_progress(self.modes[len(self.model.runs)], None)

    @Slot(str, object)
    def _sampled(self, mode: str, sample: MonitorSample) -> None:
        if self.runner.running and self.cancel_button.isEnabled():
            self._show_progress(mode, sample)

    @Slot(object)
    def _finished(self, report: ComparisonReport) -> None:
        self.report = report
        self._set_running(False)
        measured = len(report.runs)
        if report.cancelled:
            self.progress.setText(f"Cancelled after {measured} of {len(self.modes)} modes; every worker "
                                  "has ended.")
            self.recommendation.setText("No recommendation: the comparison was cancelled before every "
                                        "mode had run.")
            return
        fastest = report.fastest()
        latency = f"; the server answered in {report.latency_s * 1000:.0f} ms" if report.latency_s else ""
        self.progress.setText(f"Done: {measured} modes on {report.files} URLs{latency}. Fastest: "
                              f"{mode_label(fastest.mode) if fastest else '–'} (highlighted).")
        self.recommendation.setText(recommendation_text(report))

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._set_running(False)
        self.progress.setText(f"The comparison failed: {message}")

    # ---- export -------------------------------------------------------------------------------------------

    def save_csv(self, path: str) -> None:
        """One row per measured mode, the same columns as `main.py compare --csv`."""
        with open(path, "w", newline="", encoding="utf-8") as out:
            write_csv(out, self.model.runs)

    def save_png(self, path: str) -> bool:
        return self.charts.save_png(path)

    @Slot()
    def choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the comparison as CSV", "comparison.csv",
                                              "CSV files (*.csv)")
        if path:
            try:
                self.save_csv(path)
            except OSError as exc:
                self.progress.setText(f"Could not save {path}: {exc.strerror or exc}")
                return
            self.progress.setText(f"Saved {path}")

    @Slot()
    def choose_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the charts as PNG", "comparison.png",
                                              "PNG images (*.png)")
        if path:
            saved = self.save_png(path)
            self.progress.setText(f"Saved {path}" if saved else f"Could not save {path}")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.cancel()  # the run ends in the background; its report still arrives here
        super().closeEvent(event)


class CompareLauncher(QObject):
    """Adds Tools ▸ Compare modes… to a window and opens one Compare view over the window's URLs."""

    def __init__(self, window: QMainWindow, model: JobsTableModel, panel: InputPanel,
                 bridge: SessionBridge, pipeline: WindowPipeline) -> None:
        super().__init__(window)
        self.window, self.model, self.panel, self.bridge = window, model, panel, bridge
        self.pipeline = pipeline
        self.dialog: CompareDialog | None = None
        self._logins: dict[int, str] = {}  # job id -> login: the engine's snapshots leave them out
        bridge.engine.logins.connect(self._got_logins)
        model.rowsInserted.connect(self._ask_logins)  # a job added while the view is open may have one
        self.action = QAction("Compare &modes…", window)
        self.action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.action.setStatusTip("Run the window's URLs in each mode and compare what each costs")
        self.action.triggered.connect(self.open)
        window.addAction(self.action)
        window.menuBar().addMenu("&Tools").addAction(self.action)
        # on the bridge's shutdown thread: the comparison's workers end before the window reports closed
        bridge.shutdown_finished.connect(self.shutdown, Qt.ConnectionType.DirectConnection)

    def entries(self) -> list[UrlEntry]:
        """The URLs in the window's list, or else those in the paste box."""
        jobs = self.model.jobs()
        if jobs:
            first: dict[str, Job] = {}
            for job in jobs:
                first.setdefault(job.url, job)
            return [UrlEntry(url, job.sha256_expected, credentials=self._logins.get(job.id))
                    for url, job in first.items()]
        return parse_text(self.panel.paste_box.toPlainText()).entries

    def busy(self) -> str | None:
        if self.bridge.is_active:
            return ("Downloads are running in the window: pause or finish them first, since a comparison "
                    "measures the whole app.")
        if self.bridge.stats.worker_pids or self.pipeline.enabled:
            # a comparison restarts multiprocessing's helpers, which would orphan these processes
            return ("The window still has worker processes from its last run: pick a thread mode in the "
                    "window (that ends them), then compare.")
        return None

    @Slot()
    def _ask_logins(self) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self.bridge.engine.ask_logins()

    @Slot(object)
    def _got_logins(self, answer: protocol.Logins) -> None:
        self._logins = answer.logins
        if self.dialog is not None and not self.dialog.runner.running:
            self.dialog.reload()

    @Slot()
    def open(self) -> CompareDialog:
        self.bridge.engine.ask_logins()  # the URLs with a login are compared with it
        if self.dialog is None:
            self.dialog = CompareDialog(self.entries, self.busy, self.window)
        else:
            self.dialog.reload()
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog

    def shutdown(self) -> None:
        """Cancel a running comparison and wait until its workers have ended (any thread)."""
        if self.dialog is not None:
            self.dialog.runner.shutdown()
