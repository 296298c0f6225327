"""The monitor: the app's processes, threads, CPU and memory, with worker processes named as such."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import psutil
import pytest

from engine.monitor import MonitorSample, SystemMonitor
from engine.session import Session
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def pool() -> Iterator[Session]:
    session = Session("process-pool", 3)
    yield session
    session.shutdown()


def test_a_thread_mode_is_one_process_with_its_threads_counted() -> None:
    release = threading.Event()
    extra = [threading.Thread(target=release.wait, daemon=True) for _ in range(4)]
    before = SystemMonitor().sample()
    for thread in extra:
        thread.start()
    after = SystemMonitor().sample()
    release.set()
    assert before.processes == 1 and before.per_process[0].role == "app"
    assert before.per_process[0].pid == os.getpid()
    assert after.threads == before.threads + 4
    assert after.rss > 10 * 1024 * 1024


def test_a_process_pool_of_n_shows_n_workers_and_more_than_n_processes(pool: Session) -> None:
    monitor = SystemMonitor(lambda: pool.stats().worker_pids)
    pool.start()
    wait_until(lambda: len(pool.stats().worker_pids) == 3, 20, "three workers")
    wait_until(lambda: sum(p.role == "worker" for p in monitor.sample().per_process) == 3, 20, "roles")
    sample = monitor.sample()
    assert sample.processes >= 4
    assert {p.pid for p in sample.per_process if p.role == "worker"} == set(pool.stats().worker_pids)
    assert all(p.rss > 0 and p.threads >= 1 for p in sample.per_process)


def short_lived_child() -> subprocess.Popen[bytes]:
    """A real child process that ends as soon as its stdin is closed."""
    return subprocess.Popen([sys.executable, "-I", "-S", "-c", "import sys; sys.stdin.read()"],
                            stdin=subprocess.PIPE)


def end(child: subprocess.Popen[bytes]) -> None:
    assert child.stdin is not None
    child.stdin.close()
    child.wait(10)


def test_a_child_that_ends_between_listing_and_sampling_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monitor = SystemMonitor()
    child = short_lived_child()
    listing = psutil.Process.children

    def listed_then_gone(process: psutil.Process, recursive: bool = False) -> list[psutil.Process]:
        children = listing(process, recursive=recursive)
        end(child)  # listed, then reaped before the monitor reads it: every call on it now fails
        return children

    monkeypatch.setattr(psutil.Process, "children", listed_then_gone)
    sample = monitor.sample()
    assert [p.pid for p in sample.per_process] == [os.getpid()] and sample.processes == 1


def test_children_that_come_and_go_while_sampling_never_break_the_sampler() -> None:
    monitor = SystemMonitor(rediscover=0.0)  # the tree walked at every sample
    started: set[int] = set()
    stop = threading.Event()

    def churn() -> None:  # short-lived children, some ended at once, some left as zombies for a moment
        while not stop.is_set():
            batch = [short_lived_child() for _ in range(4)]
            started.update(child.pid for child in batch)
            for child in batch:
                end(child)

    churner = threading.Thread(target=churn, name="churn")
    churner.start()
    samples: list[MonitorSample] = []
    try:
        wait_until(lambda: len(started) >= 4, 20, "the first children")
        while len(samples) < 150 or len(started) < 40:
            samples.append(monitor.sample())
            assert len(samples) < 5000, "the churn thread started too few children"
    finally:
        stop.set()
        churner.join(30)
    seen: set[int] = set()
    for sample in samples:
        pids = [p.pid for p in sample.per_process]
        assert sample.processes == len(pids) == len(set(pids)) >= 1
        assert os.getpid() in pids and set(pids) - {os.getpid()} <= started
        assert sample.threads >= sample.processes and sample.rss > 0
        assert all(p.cpu_percent >= 0 and p.threads >= 1 for p in sample.per_process)
        assert all(p.cpu_percent == 0.0 for p in sample.per_process if p.pid not in seen and p.role != "app")
        seen.update(pids)
    assert len(seen) > 1, "no sample caught a child alive"


def test_a_worker_the_engine_names_shows_at_once_and_a_child_that_ends_goes_at_once() -> None:
    child = short_lived_child()
    try:
        workers: set[int] = set()
        monitor = SystemMonitor(lambda: workers, rediscover=3600.0)  # no walk of the tree but the first
        monitor.sample()
        workers.add(child.pid)  # a worker started since: the engine names it
        assert [p.role for p in monitor.sample().per_process if p.pid == child.pid] == ["worker"]
    finally:
        end(child)
    after = monitor.sample()
    assert [p.pid for p in after.per_process] == [os.getpid()] and after.processes == 1


def test_a_child_the_engine_does_not_name_shows_within_a_second() -> None:
    monitor = SystemMonitor()
    monitor.sample()
    child = short_lived_child()
    try:
        wait_until(lambda: child.pid in {p.pid for p in monitor.sample().per_process}, 5, "the new child")
    finally:
        end(child)
