"""Puts one foreground thread (the window's) first in line for the GIL: background threads step aside for it.

The threads of one process share one GIL. While download threads keep it busy with Python work, a thread
that needs it back waits behind them, and the window's thread needs it for every timer, repaint and click:
a 5 ms timer then fires 30 to 400 ms late. The foreground thread cannot ask for the GIL without holding it,
so it tells the others in three ways instead: it beats a heartbeat while it is free (a beat that stops
coming means it is waiting for the GIL), it reserves the GIL a few milliseconds before work it knows is
coming (its periodic refresh), and it marks the stretches it spends busy. Background threads call
`step_aside` between pieces of their own work and, while any of these says so, sleep without the GIL.
A reservation comes early because a thread sets out on a piece of work before the foreground needs the
GIL and only steps aside after it: the head start lets those pieces end first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

OVERDUE = 0.004  # seconds without a beat after which the foreground counts as waiting (it beats every 2 ms)
ABANDONED = 0.25  # seconds without a beat after which nobody is beating any more: no one steps aside
AFTER = 0.004  # seconds a reservation outlasts the busy block that used it (for the repaint that follows)
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
        self._reserved_until = 0.0

    def reserve(self, seconds: float) -> None:
        """Work is coming: background threads step aside from now for `seconds`, or until AFTER seconds
        after the next busy block ends, whichever comes first."""
        self._reserved_until = self._clock() + seconds

    def beat(self) -> None:
        """The foreground thread is free now (called from its heartbeat timer)."""
        self._beat = self._clock()

    def stop_beating(self) -> None:
        """The heartbeat ends: a missing beat no longer means the foreground waits."""
        self._beat = None
        self._reserved_until = 0.0

    @contextmanager
    def busy(self) -> Iterator[None]:
        """While the foreground thread runs this block, background threads keep out of its way."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            now = self._clock()
            self._reserved_until = min(self._reserved_until, now + AFTER)
            if self._beat is not None:
                self._beat = now

    def wanted(self) -> bool:
        """True while the foreground thread is busy, has the GIL reserved, or is overdue for its next beat."""
        if self._busy:
            return True
        now = self._clock()
        if now < self._reserved_until:
            return True
        beat = self._beat
        return beat is not None and OVERDUE < now - beat < ABANDONED

    def step_aside(self) -> None:
        """Called by a background thread between pieces of work: sleeps (without the GIL) while `wanted`,
        for at most MOST seconds."""
        slept = 0.0
        while slept < MOST and self.wanted():
            self._sleep(PAUSE)
            slept += PAUSE


COURTESY = Courtesy()
