"""The window thread's heartbeat: while downloads run, it tells their threads when it needs the GIL."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer

from engine.courtesy import COURTESY, Courtesy

BEAT_MS = 2  # a beat more than engine.courtesy.OVERDUE late means the window's thread waits for the GIL
LEAD_MS = 6  # the GIL is reserved this long before the window's periodic refresh is due
RESERVE = 0.03  # seconds a reservation lasts at most (it ends sooner, once the refresh is done)


class Heartbeat(QObject):
    """A precise timer on the window's thread that beats `courtesy` (see engine/courtesy.py), and reserves
    the GIL when the `upcoming` timer (the window's refresh) is about to fire."""

    def __init__(self, parent: QObject | None = None, upcoming: QTimer | None = None,
                 courtesy: Courtesy = COURTESY) -> None:
        super().__init__(parent)
        self._courtesy = courtesy
        self._upcoming = upcoming
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(BEAT_MS)
        self._timer.timeout.connect(self._beat)

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

    def _beat(self) -> None:
        self._courtesy.beat()
        if self._upcoming is not None and 0 <= self._upcoming.remainingTime() <= LEAD_MS:
            self._courtesy.reserve(RESERVE)
