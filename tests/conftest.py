"""Shared fixtures: the local HTTP server, and a check that no test leaves a child process behind."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psutil
import pytest

from engine.store import DATA_DIR_ENV
from engine.workers import stop_process_helpers
from tests.support.fixtures import http_server  # noqa: F401  (a fixture, used by name)
from tests.support.offscreen import PLATFORM

os.environ["QT_QPA_PLATFORM"] = PLATFORM


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test keeps its job store in a folder of its own, never in the user's data folder."""
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path_factory.mktemp("data")))


@pytest.fixture(autouse=True)
def no_child_process_left() -> Iterator[None]:
    """After every test: once multiprocessing's helpers are stopped, this process has no children."""
    yield
    stop_process_helpers()
    me = psutil.Process()
    _, alive = psutil.wait_procs(me.children(recursive=True), timeout=5)
    assert not alive, f"child processes left behind: {[(p.pid, p.name()) for p in alive]}"
