"""The top of the window: the paste box with Add and Import, and the run settings (mode, workers, folder)."""

from __future__ import annotations

import html

from PySide6.QtCore import QStandardPaths, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.modes import MODES, Runner
from engine.pipeline import CHOICES, PIPELINE, choice_description, choice_label, download_mode

MAX_WORKERS = 256
NO_SUGGESTION = "Add URLs and Parafetch probes a few of them to suggest a mode."


def default_folder() -> str:
    """The user's Downloads folder (or home when the platform has none)."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DownloadLocation)
    return folder or QStandardPaths.writableLocation(QStandardPaths.StandardLocation.HomeLocation)


def _runner(mode: str) -> type[Runner]:
    return MODES[download_mode(mode)]


def mode_label(mode: str) -> str:
    label = choice_label(mode)
    return label[:1].upper() + label[1:]


def mode_tooltip(mode: str) -> str:
    return f"<b>{mode_label(mode)}</b><br>{choice_description(mode)}"


class InputPanel(QWidget):
    """Emits `add_requested(text)` for the paste box, `import_requested()`, and mode/worker changes.

    `mode_changed` carries the mode the downloads run in (the pipeline's is a thread pool), and
    `pipeline_changed` whether the pipeline was picked.
    """

    add_requested = Signal(str)
    import_requested = Signal()
    mode_changed = Signal(str)
    pipeline_changed = Signal(bool)
    workers_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.paste_box = QPlainTextEdit()
        self.paste_box.setObjectName("paste-box")
        self.paste_box.setPlaceholderText(
            "Paste or drop URLs here, one per line (or separated by spaces or commas), then press Add.\n"
            "Ctrl+V anywhere else in the window adds the clipboard's URLs at once; "
            "you can also drop links or .txt lists on the window.")
        self.paste_box.setTabChangesFocus(True)
        line = self.paste_box.fontMetrics().lineSpacing()
        self.paste_box.setMinimumHeight(3 * line + 12)
        self.paste_box.setMaximumHeight(6 * line + 12)
        self.add_button = QPushButton("Add")
        self.add_button.setObjectName("add-button")
        self.add_button.setDefault(True)
        self.add_button.setToolTip("Queue the URLs in the box (Ctrl+Return in the box)")
        self.add_button.clicked.connect(self._add_clicked)
        add_shortcut = QShortcut(QKeySequence("Ctrl+Return"), self.paste_box)
        add_shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        add_shortcut.activated.connect(self._add_clicked)
        self.import_button = QPushButton("Import list…")
        self.import_button.setToolTip("Queue the URLs of a .txt list file")
        self.import_button.clicked.connect(self.import_requested)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.import_button)
        buttons.addStretch(1)

        self.mode_box = QComboBox()
        self.mode_box.setObjectName("mode")
        for index, name in enumerate(CHOICES):
            self.mode_box.addItem(mode_label(name), name)
            self.mode_box.setItemData(index, mode_tooltip(name), Qt.ItemDataRole.ToolTipRole)
        self.mode_box.currentIndexChanged.connect(self._mode_picked)
        self.suggestion = QLabel()
        self.suggestion.setObjectName("suggestion")
        self.suggestion.setWordWrap(True)
        self.suggestion.setTextFormat(Qt.TextFormat.PlainText)
        # always two lines tall, so a suggestion arriving mid-run never re-lays out the window
        self.suggestion.setMinimumHeight(2 * self.suggestion.fontMetrics().lineSpacing())
        self.suggestion.setText(NO_SUGGESTION)
        self.suggestion.setEnabled(False)  # greyed while it only says what it is for
        self._probe_note = ""
        self.workers_box = QSpinBox()
        self.workers_box.setObjectName("workers")
        self.workers_box.setRange(1, MAX_WORKERS)
        self.workers_box.setKeyboardTracking(False)
        self.workers_box.setToolTip("How many workers the pool runs; a running pool is resized at once")
        self.workers_box.valueChanged.connect(self.workers_changed)
        self.folder_edit = QLineEdit(default_folder())
        self.folder_edit.setObjectName("folder")
        self.folder_edit.setToolTip("Where new downloads are saved")
        browse = QToolButton()
        browse.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon))
        browse.setToolTip("Choose the destination folder")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.setSpacing(2)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Mode:", self.mode_box)
        form.addRow(self.suggestion)
        form.addRow("&Workers:", self.workers_box)
        folder_label = QLabel("&Save to:")
        folder_label.setBuddy(self.folder_edit)
        form.addRow(folder_label, folder_row)
        settings = QWidget()
        settings.setLayout(form)
        settings.setMinimumWidth(340)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.paste_box, 3)
        layout.addLayout(buttons)
        layout.addSpacing(8)
        layout.addWidget(settings, 2)
        self._update_workers_enabled()

    # ---- values -----------------------------------------------------------------------------------------

    def mode(self) -> str:
        """The mode picked: one of MODES, or PIPELINE."""
        return str(self.mode_box.currentData())

    def set_mode(self, mode: str) -> None:
        index = self.mode_box.findData(mode)
        if index >= 0:
            self.mode_box.setCurrentIndex(index)

    def folder(self) -> str:
        return self.folder_edit.text().strip() or default_folder()

    def set_folder(self, folder: str) -> None:
        self.folder_edit.setText(folder)

    def workers(self) -> int:
        return self.workers_box.value()

    def set_workers(self, workers: int) -> None:
        self.workers_box.setValue(workers)

    def set_suggestion(self, text: str, tooltip: str) -> None:
        """The probe's first suggestion under the mode picker, with its reasons as the tooltip. Without a
        text the label shows its grey hint again and the tooltip goes, quietly, to the end of the mode
        picker's tooltip."""
        self.suggestion.setText(text or NO_SUGGESTION)
        self.suggestion.setToolTip(tooltip)
        self.suggestion.setEnabled(bool(text))
        self._probe_note = "" if text else tooltip
        if self.mode_box.isEnabled():
            self.mode_box.setToolTip(self._mode_tip())

    def _mode_tip(self) -> str:
        note = f"<br><br><i>{html.escape(self._probe_note)}</i>" if self._probe_note else ""
        return mode_tooltip(self.mode()) + note

    def set_mode_locked(self, locked: bool, why: str = "") -> None:
        """The mode cannot change while downloads run."""
        self.mode_box.setEnabled(not locked)
        self.mode_box.setToolTip(why if locked else self._mode_tip())

    # ---- reactions --------------------------------------------------------------------------------------

    @Slot()
    def _add_clicked(self) -> None:
        self.add_requested.emit(self.paste_box.toPlainText())

    @Slot(int)
    def _mode_picked(self, index: int) -> None:
        self._update_workers_enabled()
        self.mode_box.setToolTip(self._mode_tip())
        self.mode_changed.emit(download_mode(self.mode()))
        self.pipeline_changed.emit(self.mode() == PIPELINE)

    def _update_workers_enabled(self) -> None:
        runner = _runner(self.mode())
        self.workers_box.setEnabled(runner.resizable)
        self.workers_box.setSpecialValueText("" if runner.resizable else "auto")
        self.workers_box.setToolTip(
            "How many workers the pool runs; a running pool is resized at once" if runner.resizable
            else f"{runner.label} decides its own number of workers")

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save downloads to", self.folder())
        if folder:
            self.folder_edit.setText(folder)
