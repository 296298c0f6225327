"""The pipeline in the window: while it is picked, the engine puts each finished download through its CPU
stage (SHA-256 check and thumbnail in a pool of processes); this says what the stage found."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Slot

from engine.protocol import SessionStats
from engine.stage import CANCELLED, StageConfig, StageResult
from gui.bridge import SessionBridge
from gui.messages import MessageHub
from gui.thumbnails import ThumbnailCache


class WindowPipeline(QObject):
    """Switches the engine's stage on and off and shows its results: a file that fails the check is an
    error message, each thumbnail goes to the window's cache, and a summary follows when the stage is idle.
    The downloads run in the engine's thread pool, so pausing, retrying and the queue work as in every mode.
    """

    def __init__(self, bridge: SessionBridge, hub: MessageHub, thumbnails: ThumbnailCache,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.hub = hub
        self.thumbnails = thumbnails
        self.results: list[StageResult] = []
        self._unreported: list[StageResult] = []
        bridge.stage_results.connect(self._show_results)
        bridge.stats_changed.connect(self._report_when_idle)  # a run may end with a failure, not a result

    @property
    def enabled(self) -> bool:
        return self.bridge.engine.config.stage is not None

    @Slot(bool)
    def set_enabled(self, enabled: bool) -> None:
        """Put the downloads that finish from now on through the stage, or stop (the engine's stage then
        processes what it holds, and ends)."""
        if enabled != self.enabled:
            self.bridge.engine.set_stage(StageConfig() if enabled else None)

    @Slot(list)
    def _show_results(self, results: list[StageResult]) -> None:
        for result in results:
            self.results.append(result)
            self._unreported.append(result)
            if result.thumbnail is not None:
                self.thumbnails.offer(result.job_id, result.thumbnail)
            if not result.verified and result.error != CANCELLED:
                self.hub.error(f"Check failed: {Path(result.path).name} — {result.error}", [result.path])
        self._report_when_idle(self.bridge.stats)

    @Slot(object)
    def _report_when_idle(self, stats: SessionStats) -> None:
        """A summary of the files checked since the last one, once nothing runs and the stage is idle."""
        if not self._unreported or self.bridge.is_active or (stats.stage is not None and stats.stage.busy):
            return
        done, self._unreported = self._unreported, []
        verified = sum(1 for r in done if r.verified)
        pictures = sum(1 for r in done if r.thumbnail is not None)
        processes = len({r.pid for r in done if r.pid})
        cpu = sum(r.cpu_s for r in done)
        self.hub.info(
            f"Pipeline: {verified} of {len(done)} files verified (SHA-256), {pictures} thumbnails, "
            f"{cpu:.2f} s of CPU in {processes} process{'es' if processes != 1 else ''}"
        )
