"""Puts one foreground thread (the window's) first in line for the GIL: background threads step aside for it.

The threads of one process share one GIL. While download threads keep it busy with Python work, a thread
that needs it back waits behind them, and the window's thread needs it for every timer, repaint and click:
a 5 ms timer then fires 30 to 400 ms late. The foreground thread cannot ask for the GIL without holding it,
so it tells the others two ways instead: it beats a heartbeat while it is free (a beat that stops coming
means it is waiting for the GIL), and it marks the stretches it spends busy. Background threads call
`step_aside` between pieces of their own work and, while either says so, sleep without the GIL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

OVERDUE = 0.004  # seconds without a beat after which the foreground counts as waiting (it beats every 4 ms)
ABANDONED = 0.25  # seconds without a beat after which nobody is beating any more: no one steps aside
PAUSE = 0.001  # seconds a background thread sleeps before it looks again
MOST = 0.03  # seconds one step aside lasts at most: a stuck foreground thread slows the work, never stops it


class Courtesy:
    """One per process, like the GIL it shares out; the foreground thread alone calls `beat` and `busy`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._beat: float | None = None
        self._busy = 0

    def beat(self) -> None:
        """The foreground thread is free now (called from its heartbeat timer)."""
        self._beat = self._clock()

    def stop_beating(self) -> None:
        """The heartbeat ends: a missing beat no longer means the foreground waits."""
        self._beat = None

    @contextmanager
    def busy(self) -> Iterator[None]:
        """While the foreground thread runs this block, background threads keep out of its way."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            if self._beat is not None:
                self._beat = self._clock()

    def wanted(self) -> bool:
        """True while the foreground thread is busy, or overdue for its next beat."""
        if self._busy:
            return True
        beat = self._beat
        return beat is not None and OVERDUE < self._clock() - beat < ABANDONED

    def step_aside(self) -> None:
        """Called by a background thread between pieces of work: sleeps (without the GIL) while `wanted`,
        for at most MOST seconds."""
        slept = 0.0
        while slept < MOST and self.wanted():
            self._sleep(PAUSE)
            slept += PAUSE


COURTESY = Courtesy()
