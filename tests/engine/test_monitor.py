"""The monitor: the app's processes, threads, CPU and memory, with worker processes named as such."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from engine.monitor import SystemMonitor
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
