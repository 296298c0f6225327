"""Notifications for a download that failed for good and a finished run: tray message, else status bar."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QSystemTrayIcon

from engine.jobs import Job
from gui.app import app_icon
from gui.jobs_model import display_name
from gui.status_bar import StatusBar

TRAY_MS = 8_000
MAX_NAMES = 3


def failure_note(jobs: list[Job]) -> tuple[str, str]:
    """(title, text) telling that these jobs failed for good."""
    if len(jobs) == 1:
        return "Download failed", f"{display_name(jobs[0])} — {jobs[0].error or 'unknown error'}"
    names = ", ".join(display_name(job) for job in jobs[:MAX_NAMES])
    more = f" and {len(jobs) - MAX_NAMES} more" if len(jobs) > MAX_NAMES else ""
    return f"{len(jobs)} downloads failed", names + more


class Notifier(QObject):
    """Says things once per turn of the event loop: what arrives together (the last failure and the end of
    the run) is shown together, so that the second does not hide the first."""

    def __init__(self, status: StatusBar, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._status = status
        self._tray = QSystemTrayIcon(app_icon(), self) if QSystemTrayIcon.isSystemTrayAvailable() else None
        if self._tray is not None:
            self._tray.setToolTip("Parafetch")
        self._pending: list[tuple[str, str, bool]] = []  # title, text, is a warning

    def jobs_failed(self, jobs: list[Job]) -> None:
        if jobs:
            self.notify(*failure_note(jobs), warn=True)

    def run_finished(self, summary: str) -> None:
        self.notify("Run finished", summary)

    def notify(self, title: str, text: str, warn: bool = False) -> None:
        if not self._pending:
            QTimer.singleShot(0, self._flush)
        self._pending.append((title, text, warn))

    @Slot()
    def _flush(self) -> None:
        notes = sorted(self._pending, key=lambda note: not note[2])  # warnings first
        self._pending = []
        lines = [f"{title}: {text}" for title, text, _ in notes]
        if self._tray is None:
            self._status.say(" · ".join(lines))
            return
        title, text = notes[0][:2] if len(notes) == 1 else ("Parafetch", "\n".join(lines))
        icon = QSystemTrayIcon.MessageIcon.Warning if notes[0][2] else QSystemTrayIcon.MessageIcon.Information
        self._tray.show()
        self._tray.showMessage(title, text, icon, TRAY_MS)
        QTimer.singleShot(TRAY_MS, self._tray.hide)  # the icon only carries the notice: gone with it
