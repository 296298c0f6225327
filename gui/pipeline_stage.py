"""The pipeline in the window: while it is picked, each finished download goes through the CPU stage."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot

from engine.jobs import Job, JobState
from engine.stage import Stage, StageResult
from gui.bridge import SessionBridge
from gui.messages import MessageHub

RETIRE_WAIT_S = 60.0  # how long a switched-off stage may take over the files it still holds


class WindowPipeline(QObject):
    """Feeds the window's finished downloads to a Stage (SHA-256 check and thumbnail in a process pool).

    The downloads run in the window's own session (a thread pool); this object only adds the stage, so
    pausing, retrying and the job store work as in every mode. Each verified file counts in `results`; a
    file that fails the check is reported as an error, and a summary follows when the stage is idle.
    """

    processed = Signal(object)  # StageResult, from a pool thread to the UI thread

    def __init__(self, bridge: SessionBridge, hub: MessageHub, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.hub = hub
        self.stage: Stage | None = None
        self._finishing: list[Stage] = []  # stages left when another mode was picked, ending on their own
        self._finishing_lock = threading.Lock()
        self.results: list[StageResult] = []
        self._unreported: list[StageResult] = []
        self._pending = 0  # files handed to the stage whose result has not reached this thread yet
        self._closed = False
        self.processed.connect(self._show_result)
        bridge.jobs_finished.connect(self._feed)
        bridge.stats_changed.connect(self._report_when_idle)  # a run may end with a failure, not a result
        # on the bridge's shutdown thread, before the window learns the shutdown is over
        bridge.shutdown_finished.connect(self.shutdown, Qt.ConnectionType.DirectConnection)

    @property
    def enabled(self) -> bool:
        return self.stage is not None

    @Slot(bool)
    def set_enabled(self, enabled: bool) -> None:
        """Start a stage for the downloads that finish from now on, or let the current one finish and end."""
        if enabled == self.enabled or self._closed:
            return
        if enabled:
            self.stage = Stage(on_result=self._arrived)
            self.stage.start()
            return
        stage, self.stage = self.stage, None
        assert stage is not None
        stage.close()
        with self._finishing_lock:
            self._finishing.append(stage)
        threading.Thread(target=self._retire, args=(stage,), name="stage-finish", daemon=True).start()

    def shutdown(self) -> None:
        """Stop the stages and wait until their processes have ended (any thread; the window is closing)."""
        self._closed = True
        with self._finishing_lock:
            stages = [*self._finishing, *([self.stage] if self.stage else [])]
        self.stage = None
        for stage in stages:
            stage.shutdown()

    def _retire(self, stage: Stage) -> None:
        """Let a stage that was switched off process what it holds, end it, and forget it."""
        stage.wait(RETIRE_WAIT_S)
        stage.shutdown()
        with self._finishing_lock:
            self._finishing.remove(stage)

    @Slot(list)
    def _feed(self, jobs: list[Job]) -> None:
        if self.stage is None:
            return
        for job in jobs:
            if job.state is JobState.DONE and job.path:
                self.stage.put((job.id, job.path, job.sha256))  # the queue is unbounded: never waits
                self._pending += 1

    def _arrived(self, result: StageResult) -> None:
        with contextlib.suppress(RuntimeError):  # the window is already gone
            self.processed.emit(result)

    @Slot(object)
    def _show_result(self, result: StageResult) -> None:
        self.results.append(result)
        self._unreported.append(result)
        self._pending -= 1
        if not result.verified and result.error != "cancelled":
            self.hub.error(f"Check failed: {Path(result.path).name} — {result.error}", [result.path])
        self._report_when_idle()

    @Slot()
    def _report_when_idle(self) -> None:
        """A summary of the files checked since the last one, once nothing runs and every result is in."""
        if not self._unreported or self._pending or self.bridge.is_active:
            return
        done, self._unreported = self._unreported, []
        verified = sum(1 for r in done if r.verified)
        pictures = sum(1 for r in done if r.thumbnail is not None)
        processes = len({r.pid for r in done})
        cpu = sum(r.cpu_s for r in done)
        self.hub.info(
            f"Pipeline: {verified} of {len(done)} files verified (SHA-256), {pictures} thumbnails, "
            f"{cpu:.2f} s of CPU in {processes} process{'es' if processes != 1 else ''}"
        )

