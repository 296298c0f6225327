"""Runs engine.compare.run_comparison in a process of its own and hands its progress to the UI thread: the
comparison measures its own process tree, never the window's, and never takes the window's GIL."""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any, cast

from PySide6.QtCore import QObject, Signal

from engine.compare import ModeRun, run_comparison
from engine.monitor import MonitorSample
from engine.sources import UrlEntry
from engine.workers import forget_main_module
from gui.pipe_reader import KILL_AFTER, PipeReader, join_or_kill


def compare_main(
    conn: Connection, entries: list[UrlEntry], modes: list[str], workers: int, repeat: int
) -> None:
    """Entry point of the comparison process (spawned): reports each mode, samples, then the report. A
    message from the window, or the window's end, cancels it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the window's to handle
    forget_main_module()
    cancel = threading.Event()

    def listen() -> None:
        with contextlib.suppress(EOFError, OSError):
            conn.recv()
        cancel.set()

    threading.Thread(target=listen, name="compare-cancel", daemon=True).start()

    def result(run: ModeRun) -> None:
        conn.send(("mode", run))

    def sample(mode: str, taken: MonitorSample) -> None:
        conn.send(("sample", mode, taken))

    try:
        report = run_comparison(entries, modes, workers, repeat, on_result=result, cancel=cancel,
                                on_sample=sample)
    except Exception as exc:  # shown in the Compare view
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    else:
        conn.send(("finished", report))
    conn.close()


class ComparisonRunner(QObject):
    """One comparison at a time. Signals arrive on the UI thread: `mode_finished(ModeRun)` as each mode
    ends, `sampled(mode, MonitorSample)` during a run, then `finished(ComparisonReport)` or `failed(text)`."""

    mode_finished = Signal(object)
    sampled = Signal(str, object)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ctx = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._pipe: PipeReader | None = None

    @property
    def running(self) -> bool:
        return self._pipe is not None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, entries: Sequence[UrlEntry], modes: Sequence[str], workers: int, repeat: int) -> None:
        if self.running:
            raise RuntimeError("a comparison is already running")
        ours, theirs = self._ctx.Pipe(duplex=True)
        self._process = self._ctx.Process(
            target=compare_main, args=(theirs, list(entries), list(modes), workers, repeat),
            name="parafetch-compare",
        )
        self._process.start()
        theirs.close()
        self._pipe = PipeReader(ours, self._received, self._ended, self)

    def cancel(self) -> None:
        """Stop the current run: its workers are ended, and `finished` reports what was done before it."""
        if self._pipe is not None:
            self._pipe.send("cancel")

    def shutdown(self, timeout: float = 15.0) -> None:
        """Cancel and wait until the comparison's process (and so every worker it started) has ended."""
        self.cancel()
        if self._process is not None:
            join_or_kill(self._process, timeout)
        self._close()

    def _received(self, messages: list[object]) -> None:
        for message in messages:
            kind, *args = cast(tuple[Any, ...], message)
            if kind == "mode":
                self.mode_finished.emit(args[0])
            elif kind == "sample":
                self.sampled.emit(args[0], args[1])
            elif kind in ("finished", "failed"):
                self._end()
                (self.finished if kind == "finished" else self.failed).emit(args[0])

    def _ended(self) -> None:
        """The process ended without a report (killed, or a crash in the interpreter)."""
        if self._pipe is None:
            return
        code = self._process.exitcode if self._process is not None else None
        self._end()
        self.failed.emit(f"the comparison process ended unexpectedly (exit code {code})")

    def _end(self) -> None:
        if self._process is not None:
            join_or_kill(self._process, KILL_AFTER)
        self._close()

    def _close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe.deleteLater()
            self._pipe = None
