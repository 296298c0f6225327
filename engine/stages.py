"""The engine's stages: the one new files go through, and those switched off that still finish theirs."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from engine.stage import Stage, StageConfig, StageDone, StageItem, StageResult, StageStats


class Stages:
    """Owned by the engine loop's thread. Each stage's results come back to `inbox` as StageDone tagged
    with its number, so a result of a stage switched off is counted by that stage and no other."""

    def __init__(self, inbox: Any, config: StageConfig | None) -> None:
        self._inbox = inbox
        self._numbers = itertools.count(1)
        self._live: dict[int, Stage] = {}  # the current stage and those switched off, still finishing
        self._current: int | None = None
        self._ending: list[Stage] = []  # switched off and empty: their processes are ending
        self._results: list[StageResult] = []  # not yet taken by a front end
        self.switch_to(config)

    def switch_to(self, config: StageConfig | None) -> None:
        """Put every file downloaded from now on through a new stage (None: through none). A stage
        switched off processes the files it holds, then ends."""
        if self._current is not None:
            old, self._current = self._current, None
            self._retire(old)
        if config is not None:
            number = next(self._numbers)
            inbox = self._inbox
            self._live[number] = Stage(lambda result: inbox.put(StageDone(number, result)), config)
            self._current = number

    def cancel(self) -> None:
        """Stop what the current stage holds; a new one with its settings takes the files from now on."""
        if self._current is not None:
            current = self._live[self._current]
            current.cancel()
            self.switch_to(current.config)

    def cancel_all(self) -> None:
        """Stop what every stage holds (the engine winds down)."""
        for stage in self._live.values():
            stage.cancel()

    def put(self, item: StageItem) -> None:
        """A downloaded file, for the current stage (dropped when there is none)."""
        if self._current is not None:
            self._live[self._current].put(item)

    def done(self, event: StageDone) -> None:
        """A result back on the loop's thread: its stage counts it and starts its next file."""
        stage = self._live.get(event.stage)
        if stage is None:
            return
        stage.done(event.result)
        self._results.append(event.result)
        if event.stage != self._current and not stage.busy:
            self._retire(event.stage)

    def take_results(self) -> list[StageResult]:
        taken, self._results = self._results, []
        return taken

    @property
    def results_waiting(self) -> bool:
        return bool(self._results)

    @property
    def busy(self) -> bool:
        """A downloaded file is still waiting for a stage or being processed."""
        return any(stage.busy for stage in self._live.values())

    def current_stats(self) -> StageStats | None:
        return self._live[self._current].stats() if self._current is not None else None

    def pids(self) -> set[int]:
        return {pid for stage in self._live.values() for pid in stage.stats().pids}

    def close(self) -> None:
        """Cancel every stage and wait for all their processes to end."""
        self.cancel_all()
        for stage in [*self._live.values(), *self._ending]:
            stage.shutdown()

    def _retire(self, number: int) -> None:
        """End a stage that is no longer the current one, once it holds nothing."""
        stage = self._live[number]
        if not stage.busy:
            del self._live[number]
            self._ending.append(stage)  # `close` waits for the ones still ending
            threading.Thread(target=stage.shutdown, name="stage-shutdown", daemon=True).start()
