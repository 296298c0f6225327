"""The window thread's heartbeat: while downloads run, it tells their threads when the window waits."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer

from engine.courtesy import COURTESY, Courtesy

BEAT_MS = 2  # a beat more than engine.courtesy.OVERDUE late means the window's thread waits for the GIL


class Heartbeat(QObject):
    """A precise timer on the window's thread that beats `courtesy` (see engine/courtesy.py)."""

    def __init__(self, parent: QObject | None = None, courtesy: Courtesy = COURTESY) -> None:
        super().__init__(parent)
        self._courtesy = courtesy
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(BEAT_MS)
        self._timer.timeout.connect(courtesy.beat)

    @property
    def beating(self) -> bool:
        return self._timer.isActive()

    def set_beating(self, on: bool) -> None:
        """Beat while downloads run; when they stop, so does the beat (an idle window needs no timer)."""
        if on == self._timer.isActive():
            return
        if on:
            self._courtesy.beat()
            self._timer.start()
        else:
            self._timer.stop()
            self._courtesy.stop_beating()
