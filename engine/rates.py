"""Download speeds from when the bytes arrived: a sliding window over (arrival time, bytes) samples."""

from __future__ import annotations

from collections import deque

SPEED_WINDOW = 3.0  # seconds of samples a speed is computed over
MIN_SPAN = 1.0  # seconds a job must have been measured before it shows a speed


class RateMeter:
    """One download's speed. Samples carry the time their bytes arrived (`time.monotonic()` in the worker,
    which every process of the machine shares), so a burst of reports handled late changes nothing: the
    rate is the bytes that arrived over the time they took, never more."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, at: float, size: int) -> None:
        """`size` bytes had arrived by `at`. Fewer bytes than before: the file started over."""
        if self._samples and size < self._samples[-1][1]:
            self._samples.clear()
        if self._samples and at <= self._samples[-1][0]:
            self._samples[-1] = (self._samples[-1][0], size)  # reordered or same-moment reports
            return
        self._samples.append((at, size))

    def rate(self, now: float) -> float:
        """Bytes per second over the last SPEED_WINDOW seconds up to `now` (0 until MIN_SPAN is measured);
        a download that stops receiving slows to 0 as its samples age."""
        samples = self._samples
        while len(samples) >= 2 and samples[1][0] <= now - SPEED_WINDOW:
            samples.popleft()
        if not samples:
            return 0.0
        base_at, base = samples[0]
        span = now - base_at
        if span < MIN_SPAN:
            return 0.0
        return (samples[-1][1] - base) / span
