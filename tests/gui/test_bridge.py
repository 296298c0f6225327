"""The bridge and the link: the engine runs in a process of its own, each snapshot is one dataChanged at
most, snapshots that queue up are merged, and an engine that dies is noticed, said and restarted."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

from engine import protocol
from engine.jobs import Job, JobState
from engine.pipeline import PIPELINE
from gui.bridge import RunClock, no_stats
from gui.engine_link import _merge
from gui.main_window import MainWindow
from tests.gui.conftest import MakeWindow, all_done, serve_files
from tests.support.http_server import TestServer

pytestmark = pytest.mark.timeout(90)


def test_the_downloads_run_in_an_engine_process_not_in_the_window(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, http_server: TestServer,
) -> None:
    files = serve_files(http_server, 6, size=200_000, rate=1_000_000)
    window.add_text("\n".join(files))
    window.start()
    qtbot.waitUntil(lambda: any(j.worker_pid for j in window.model.jobs()), timeout=20_000)
    engine = window.engine.pid
    assert engine is not None and engine != os.getpid()
    assert {j.worker_pid for j in window.model.jobs() if j.worker_pid} == {engine}
    qtbot.waitUntil(lambda: {p.role for p in window.monitor.processes.processes()} >= {"window", "engine"},
                    timeout=5_000)
    rows = {p.role: p.pid for p in window.monitor.processes.processes()}
    assert rows["window"] == os.getpid() and rows["engine"] == engine
    qtbot.waitUntil(lambda: all_done(window, 6), timeout=30_000)


def test_one_data_changed_per_snapshot(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, http_server: TestServer,
) -> None:
    files = serve_files(http_server, 20, size=300_000, rate=2_000_000)
    per_snapshot: list[int] = [0]
    window.model.dataChanged.connect(lambda *args: per_snapshot.__setitem__(-1, per_snapshot[-1] + 1))
    window.bridge.stats_changed.connect(lambda stats: per_snapshot.append(0))
    window.add_text("\n".join(files))
    window.start()
    qtbot.waitUntil(lambda: all_done(window, 20), timeout=30_000)
    assert len(per_snapshot) > 5 and max(per_snapshot) <= 1


def test_a_killed_engine_is_said_and_a_restart_resumes_every_unfinished_file(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow, http_server: TestServer, downloads: Path, tmp_path: Path,
) -> None:
    files = serve_files(http_server, 6, size=400_000, rate=200_000)
    window = make_window("thread-pool", workers=3, data_dir=tmp_path / "data")
    window.add_text("\n".join(files))
    window.start()
    qtbot.waitUntil(lambda: sum(j.bytes_done > 0 for j in window.model.jobs()) >= 3, timeout=20_000)
    engine = window.engine.pid
    assert engine is not None
    os.kill(engine, signal.SIGKILL)
    qtbot.waitUntil(lambda: any("The download engine was killed (signal 9)" in m.text
                                for m in window.messages.messages()), timeout=1_000)
    assert window.commands.restart_engine.isEnabled()
    assert not psutil.pid_exists(engine) or psutil.Process(engine).status() == psutil.STATUS_ZOMBIE
    window.commands.restart_engine.trigger()
    qtbot.waitUntil(lambda: all_done(window, 6), timeout=60_000)
    for job in window.model.jobs():
        assert Path(job.path or "").read_bytes() == files[job.url]
    assert sorted(p.name for p in downloads.iterdir()) == sorted(f"file-{i}.bin" for i in range(6))
    assert window.engine.pid != engine


def test_a_restarted_engine_runs_in_the_mode_and_with_the_stage_last_picked(  # type: ignore[no-untyped-def]
    qtbot, make_window: MakeWindow,
) -> None:
    window = make_window("thread-pool", workers=2)
    window.input.set_mode(PIPELINE)
    window.input.set_mode("process-pool")
    window.input.set_mode(PIPELINE)  # a pipeline: thread pool and stage
    window.input.workers_box.setValue(3)
    qtbot.waitUntil(lambda: window.bridge.stats.stage is not None and window.bridge.stats.workers == 3,
                    timeout=5_000)
    engine = window.engine.pid
    assert engine is not None
    os.kill(engine, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.commands.restart_engine.isEnabled(), timeout=2_000)
    shown = window.bridge.ticks
    window.commands.restart_engine.trigger()
    qtbot.waitUntil(lambda: window.bridge.ticks > shown, timeout=10_000)  # the new engine's first snapshot
    stats = window.bridge.stats
    assert (stats.mode, stats.workers, stats.stage is not None) == ("thread-pool", 3, True)


def _job(job_id: int, state: JobState = JobState.QUEUED) -> Job:
    return Job(f"http://h/{job_id}", "/d", id=job_id, state=state)


def test_snapshots_that_queued_up_are_merged_newest_first() -> None:
    stats = no_stats("thread-pool", 4)
    older = protocol.Snapshot(1, (_job(1), _job(2), _job(3)), (), stats)
    newer = protocol.Snapshot(2, (_job(2, JobState.RUNNING), _job(4)), (3,), stats)
    merged = _merge(older, newer)
    assert merged.seq == 2
    assert [(j.id, j.state) for j in merged.jobs] == [
        (1, JobState.QUEUED), (2, JobState.RUNNING), (4, JobState.QUEUED)]
    assert merged.removed == (3,)


def test_run_clock_holds_while_paused_and_restarts_for_a_new_batch() -> None:
    now = [0.0]
    clock = RunClock(lambda: now[0])
    clock.update(active=True, paused=False)
    now[0] = 5.0
    clock.update(active=False, paused=True)  # everything paused
    now[0] = 50.0
    assert clock.elapsed() == 5.0
    clock.update(active=True, paused=True)  # resumed: goes on from 5 s
    now[0] = 52.0
    assert clock.elapsed() == 7.0
    clock.update(active=False, paused=False)
    clock.update(active=True, paused=False)  # a new batch starts from zero
    now[0] = 53.0
    assert clock.elapsed() == 1.0
