"""What the window remembers between runs (QSettings): geometry, splitters, mode, workers per mode, folder."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

from engine.modes import MODES
from engine.pipeline import CHOICES

DEFAULT_MODE = "thread-pool"


class WindowState:
    """Reads and writes the window's settings; every value is checked, since the file may be stale."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def mode(self) -> str:
        mode = str(self.settings.value("run/mode", DEFAULT_MODE))
        return mode if mode in CHOICES else DEFAULT_MODE

    def set_mode(self, mode: str) -> None:
        self.settings.setValue("run/mode", mode)

    def workers(self, mode: str) -> int:
        try:
            value = int(str(self.settings.value(f"run/workers/{mode}", 0)))
        except (TypeError, ValueError):
            value = 0
        return value if 1 <= value <= 256 else MODES[mode].default_workers()

    def set_workers(self, mode: str, workers: int) -> None:
        self.settings.setValue(f"run/workers/{mode}", workers)

    def folder(self, default: str) -> str:
        return str(self.settings.value("run/folder", default) or default)

    def last_list_folder(self) -> str:
        return str(self.settings.value("input/list-folder", "") or "")

    def set_last_list_folder(self, folder: str) -> None:
        self.settings.setValue("input/list-folder", folder)

    def save(self, window: QMainWindow, mode: str, folder: str) -> None:
        s = self.settings
        s.setValue("window/geometry", window.saveGeometry())
        s.setValue("window/state", window.saveState())
        for splitter in window.findChildren(QSplitter):
            if splitter.objectName():
                s.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        s.setValue("run/mode", mode)
        s.setValue("run/folder", folder)
        s.sync()

    def restore(self, window: QMainWindow) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes):
            window.restoreGeometry(QByteArray(geometry))
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray | bytes):
            window.restoreState(QByteArray(state))
        for splitter in window.findChildren(QSplitter):
            saved = self.settings.value(f"splitters/{splitter.objectName()}")
            if splitter.objectName() and isinstance(saved, QByteArray | bytes):
                splitter.restoreState(QByteArray(saved))
