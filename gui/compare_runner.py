"""Runs engine.compare.run_comparison on a background thread and hands its progress to the UI thread."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal, SignalInstance

from engine.compare import ModeRun, run_comparison
from engine.monitor import MonitorSample
from engine.sources import UrlEntry


class ComparisonRunner(QObject):
    """One comparison at a time. Signals arrive on the UI thread: `mode_finished(ModeRun)` as each mode
    ends, `sampled(mode, MonitorSample)` during a run, then `finished(ComparisonReport)` or `failed(text)`."""

    mode_finished = Signal(object)
    sampled = Signal(str, object)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, entries: Sequence[UrlEntry], modes: Sequence[str], workers: int, repeat: int) -> None:
        if self.running:
            raise RuntimeError("a comparison is already running")
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=self._work, args=(list(entries), list(modes), workers, repeat, self._cancel),
            name="compare", daemon=True,
        )
        self._thread.start()

    def cancel(self) -> None:
        """Stop the current run: its workers are ended, and `finished` reports what was done before it."""
        self._cancel.set()

    def shutdown(self, timeout: float = 15.0) -> None:
        """Cancel and wait until the comparison's thread (and so every worker it started) has ended."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _work(self, entries: list[UrlEntry], modes: list[str], workers: int, repeat: int,
              cancel: threading.Event) -> None:
        try:
            report = run_comparison(entries, modes, workers, repeat, on_result=self._result, cancel=cancel,
                                    on_sample=self._sample)
        except Exception as exc:  # shown in the Compare view
            self._emit(self.failed, f"{type(exc).__name__}: {exc}")
        else:
            self._emit(self.finished, report)

    def _result(self, run: ModeRun) -> None:
        self._emit(self.mode_finished, run)

    def _sample(self, mode: str, sample: MonitorSample) -> None:
        self._emit(self.sampled, mode, sample)

    @staticmethod
    def _emit(signal: SignalInstance, *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the view is already gone
            signal.emit(*args)
