"""The five modes through a Session: same bytes in every mode, cancel, pause/resume, resize, dead workers."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from engine.jobs import JobState
from engine.modes import MODES
from engine.session import Session
from engine.sources import parse_text
from tests.support.http_server import TestServer, payload
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(90)
ALL_MODES = list(MODES)
PROCESS_MODES = [m for m in ALL_MODES if MODES[m].uses_processes]
SLOW = 256 * 1024  # bytes per second: slow enough for a job to be caught mid-transfer


@pytest.fixture
def session_factory() -> Iterator[type[Session]]:
    sessions: list[Session] = []

    class Tracked(Session):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            sessions.append(self)

    yield Tracked
    for session in sessions:
        session.shutdown()


def add_urls(session: Session, urls: list[str], dest: Path) -> list[int]:
    parsed = parse_text("\n".join(urls))
    return session.add(parsed.entries, str(dest))


def states(session: Session) -> list[JobState]:
    return [job.state for job in session.jobs()]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_every_mode_downloads_the_same_50_urls_byte_identically(
    mode: str, http_server: TestServer, tmp_path: Path, session_factory: type[Session]
) -> None:
    files = {f"/f{i:02d}.bin": payload(f"f{i}", 20_000 + 997 * i) for i in range(50)}
    urls = [http_server.add(path, data) for path, data in files.items()]
    session = session_factory(mode, 4)
    add_urls(session, urls, tmp_path)
    session.start()
    assert session.wait(60)
    assert states(session) == [JobState.DONE] * 50
    for path, data in files.items():
        assert (tmp_path / path.lstrip("/")).read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.lstrip("/") for p in files)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_cancel_one_job_stops_it_and_removes_its_part(
    mode: str, http_server: TestServer, tmp_path: Path, session_factory: type[Session]
) -> None:
    slow = http_server.add("/slow.bin", payload("slow", 4 * SLOW), rate=SLOW)
    quick = http_server.add("/quick.bin", payload("quick", 10_000))
    session = session_factory(mode, 2)
    slow_id, quick_id = add_urls(session, [slow, quick], tmp_path)
    session.start()
    wait_until(lambda: (session.job(slow_id) or pytest.fail()).bytes_done > 0, 20, "the slow job to start")
    session.cancel(slow_id)
    assert session.wait(30)
    assert [session.job(slow_id).state, session.job(quick_id).state] == [JobState.CANCELLED, JobState.DONE]  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quick.bin"]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_cancel_all_stops_every_job_in_time(
    mode: str, http_server: TestServer, tmp_path: Path, session_factory: type[Session]
) -> None:
    urls = [http_server.add(f"/c{i}.bin", payload(f"c{i}", 4 * SLOW), rate=SLOW) for i in range(4)]
    session = session_factory(mode, 2)
    add_urls(session, urls, tmp_path)
    session.start()
    wait_until(lambda: any(j.bytes_done for j in session.jobs()), 20, "a job to start")
    session.cancel()
    assert session.wait(10)
    assert states(session) == [JobState.CANCELLED] * 4
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", ALL_MODES)
def test_pause_and_resume_continue_from_the_part_file(
    mode: str, http_server: TestServer, tmp_path: Path, session_factory: type[Session]
) -> None:
    data = payload("pr", 2 * SLOW)
    url = http_server.add("/pr.bin", data, rate=SLOW)
    session = session_factory(mode, 2)
    (job_id,) = add_urls(session, [url], tmp_path)
    session.start()
    wait_until(lambda: (session.job(job_id) or pytest.fail()).bytes_done > SLOW // 2, 20, "progress")
    session.pause(job_id)
    wait_until(lambda: (session.job(job_id) or pytest.fail()).state is JobState.PAUSED, 10, "the pause")
    kept = Path(str(session.job(job_id).part_path)).stat().st_size  # type: ignore[union-attr]
    assert kept > 0
    session.resume(job_id)
    assert session.wait(30)
    assert (tmp_path / "pr.bin").read_bytes() == data
    assert http_server.requests_for("/pr.bin")[-1].header("Range") == f"bytes={kept}-"
    assert http_server.bytes_sent("/pr.bin") < len(data) + SLOW


@pytest.mark.parametrize("mode", ["thread-pool", "process-pool"])
def test_a_running_pool_grows_and_shrinks_without_losing_or_repeating_a_job(
    mode: str, http_server: TestServer, tmp_path: Path, session_factory: type[Session]
) -> None:
    urls = [http_server.add(f"/g{i:02d}.bin", payload(f"g{i}", SLOW // 4), rate=SLOW) for i in range(24)]
    session = session_factory(mode, 2)
    add_urls(session, urls, tmp_path)
    session.start()
    wait_until(lambda: session.stats().running == 2, 20, "two running jobs")
    session.set_workers(6)
    wait_until(lambda: session.stats().running == 6, 20, "six running jobs after growing")
    session.set_workers(3)
    wait_until(lambda: session.stats().running <= 3 and session.stats().done > 6, 30, "the pool to shrink")
    peak_after_shrink = 0

    def track() -> bool:
        nonlocal peak_after_shrink
        stats = session.stats()  # (a download being saved holds no worker)
        peak_after_shrink = max(peak_after_shrink, stats.running - stats.saving)
        return session.stats().finished == 24

    wait_until(track, 60, "every job")
    assert peak_after_shrink <= 3
    assert states(session) == [JobState.DONE] * 24
    assert all(len(http_server.requests_for(f"/g{i:02d}.bin")) == 1 for i in range(24))


def test_the_thread_pool_has_exactly_n_worker_threads(tmp_path: Path, session_factory: type[Session]) -> None:
    session = session_factory("thread-pool", 5)
    session.start()
    wait_until(lambda: sum(t.name.startswith("worker-") for t in threading.enumerate()) == 5, 10, "5 workers")
    session.set_workers(2)
    wait_until(lambda: sum(t.name.startswith("worker-") for t in threading.enumerate()) == 2, 10, "2 workers")


def test_the_process_pool_has_exactly_n_worker_processes(session_factory: type[Session]) -> None:
    session = session_factory("process-pool", 3)
    session.start()
    wait_until(lambda: len(session.stats().worker_pids) == 3, 20, "3 worker processes")
    assert all(psutil.pid_exists(pid) for pid in session.stats().worker_pids)


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_a_worker_killed_from_outside_fails_its_job_and_the_rest_go_on(
    mode: str, http_server: TestServer, tmp_path: Path, session_factory: type[Session]
) -> None:
    victim = http_server.add("/victim.bin", payload("v", 8 * SLOW), rate=SLOW)
    others = [http_server.add(f"/o{i}.bin", payload(f"o{i}", 30_000)) for i in range(6)]
    session = session_factory(mode, 2)
    victim_id, *other_ids = add_urls(session, [victim, *others], tmp_path)
    session.start()
    wait_until(lambda: (session.job(victim_id) or pytest.fail()).bytes_done > 0, 30, "the victim to start")
    pid = session.job(victim_id).worker_pid  # type: ignore[union-attr]
    assert pid and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    assert session.wait(60)
    victim_job = session.job(victim_id)
    assert victim_job is not None and victim_job.state is JobState.FAILED
    assert "killed (signal 9)" in (victim_job.error or "")
    assert [session.job(i).state for i in other_ids] == [JobState.DONE] * 6  # type: ignore[union-attr]
    for i in range(6):
        assert (tmp_path / f"o{i}.bin").read_bytes() == payload(f"o{i}", 30_000)
    assert not (tmp_path / "victim.bin").exists()


def test_unbounded_modes_hold_work_back_past_their_ceiling(
    http_server: TestServer, tmp_path: Path, session_factory: type[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.limits import Ceiling
    from engine.modes.threads import ThreadsRunner

    monkeypatch.setattr(ThreadsRunner, "ceiling", lambda self: Ceiling(3, "a test ceiling"))
    urls = [http_server.add(f"/h{i}.bin", payload(f"h{i}", SLOW // 2), rate=SLOW) for i in range(8)]
    session = session_factory("threads")
    add_urls(session, urls, tmp_path)
    session.start()
    wait_until(lambda: session.stats().running == 3, 20, "three running")
    stats = session.stats()
    assert stats.held_back == "5 waiting: at most 3 at once, set by a test ceiling"
    assert session.wait(60)
    assert states(session) == [JobState.DONE] * 8


def test_retryable_failures_are_retried_and_end_byte_identical(
    http_server: TestServer, tmp_path: Path, session_factory: type[Session]
) -> None:
    from engine.events import RetryPolicy

    data = payload("flaky", 50_000)
    url = http_server.add("/flaky.bin", data, fail_first=2, status=503)
    session = session_factory("thread-pool", 2, RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.1))
    (job_id,) = add_urls(session, [url], tmp_path)
    session.start()
    assert session.wait(30)
    job = session.job(job_id)
    assert job is not None and job.state is JobState.DONE and job.attempts == 3
    assert (tmp_path / "flaky.bin").read_bytes() == data


def test_a_permanent_failure_takes_one_attempt(
    http_server: TestServer, tmp_path: Path, session_factory: type[Session]
) -> None:
    url = http_server.add("/missing", b"", status=404)
    session = session_factory("thread-pool", 2)
    (job_id,) = add_urls(session, [url], tmp_path)
    session.start()
    assert session.wait(30)
    job = session.job(job_id)
    assert job is not None and job.state is JobState.FAILED and job.attempts == 1
    assert job.error == "server answered HTTP 404 Not Found"


@pytest.mark.parametrize("mode", ["thread-pool", "process-pool"])
def test_switching_mode_on_an_idle_pool_never_lets_the_old_workers_exits_fail_new_jobs(
    mode: str, http_server: TestServer, tmp_path: Path, session_factory: type[Session]
) -> None:
    files = {f"/m{i}.bin": payload(f"m{i}", SLOW // 2) for i in range(8)}
    urls = [http_server.add(path, data, rate=SLOW) for path, data in files.items()]
    session = session_factory(mode, 3)
    session.start()
    wait_until(lambda: session.stats().workers == 3 and _pool_is_up(session, mode), 30, "the first pool")
    session.set_mode(mode, 3)  # the old pool ends while the new one takes the jobs
    add_urls(session, urls, tmp_path)
    session.start()
    assert session.wait(60)
    assert [(job.state, job.error) for job in session.jobs()] == [(JobState.DONE, None)] * 8
    for path, data in files.items():
        assert (tmp_path / path[1:]).read_bytes() == data


def _pool_is_up(session: Session, mode: str) -> bool:
    if MODES[mode].uses_processes:
        return len(session.stats().worker_pids) == 3
    return sum(t.name.startswith("worker-") for t in threading.enumerate()) >= 3
