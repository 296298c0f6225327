"""The five ways to run a list of downloads, by their command-line names."""

from __future__ import annotations

from engine.modes.base import Runner
from engine.modes.process_pool import ProcessPoolRunner
from engine.modes.processes import ProcessesRunner
from engine.modes.sequential import SequentialRunner
from engine.modes.thread_pool import ThreadPoolRunner
from engine.modes.threads import ThreadsRunner

MODES: dict[str, type[Runner]] = {
    runner.name: runner
    for runner in (SequentialRunner, ThreadsRunner, ThreadPoolRunner, ProcessesRunner, ProcessPoolRunner)
}

__all__ = ["MODES", "Runner"]
