"""Retries through a session: each retryable fault ends byte-identical with the right attempt count;
permanent errors take one attempt; Retry-After is honoured; the failed list keeps its history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.events import RetryPolicy
from engine.jobs import Job, JobState
from engine.session import Session
from engine.sources import parse_text
from engine.store import JobStore
from tests.support.http_server import TestServer, payload
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)
QUICK = RetryPolicy(attempts=6, base_delay=0.05, max_delay=2.0)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with JobStore(tmp_path / "data") as store:
        running = Session("thread-pool", 4, QUICK, store=store)
        yield running
        running.shutdown()


def run_one(session: Session, url: str, dest: Path) -> Job:
    (job_id,) = session.add(parse_text(url).entries, str(dest))
    session.start()
    assert session.wait(45)
    job = session.job(job_id)
    assert job is not None
    return job


@pytest.mark.parametrize(
    ("faults", "attempts", "what"),
    [
        ({"fail_first": 2, "status": 503}, 3, "503 Service Unavailable"),
        ({"fail_first": 2, "status": 500}, 3, "500 Internal Server Error"),
        ({"fail_first": 2, "status": 429}, 3, "429 Too Many Requests"),
        # Every answer stops after 40 000 bytes: each retry resumes where the last stopped.
        ({"truncate": 40_000}, 3, "connection closed early"),
        # A reset loses what was in flight, so the count depends on the kernel; it is consistent with history.
        ({"reset": 40_000}, None, "connection"),
    ],
)
def test_a_retryable_fault_ends_byte_identical_with_the_right_attempt_count(
    session: Session,
    http_server: TestServer,
    tmp_path: Path,
    faults: dict[str, object],
    attempts: int | None,
    what: str,
) -> None:
    data = payload("retry", 100_000)
    job = run_one(session, http_server.add("/retry.bin", data, **faults), tmp_path)
    history = session.error_history(job.id)
    assert job.state is JobState.DONE, history
    assert job.attempts == (attempts or len(history) + 1) == len(http_server.requests_for("/retry.bin"))
    assert (tmp_path / "retry.bin").read_bytes() == data
    assert [attempt for _, attempt, _ in history] == list(range(1, job.attempts))
    assert all(what in message for _, _, message in history), history


def test_a_refused_connection_is_retried_until_attempts_run_out(session: Session, tmp_path: Path) -> None:
    server = TestServer().start()
    url = server.url("/gone.bin")
    server.stop()
    job = run_one(session, url, tmp_path)
    assert (job.state, job.attempts) == (JobState.FAILED, 6)
    assert job.error is not None and "connection refused" in job.error
    assert len(session.error_history(job.id)) == 6


def test_retry_after_is_honoured(session: Session, http_server: TestServer, tmp_path: Path) -> None:
    url = http_server.add("/later.bin", payload("later", 1000), fail_first=1, status=503, retry_after="1")
    started = time.monotonic()
    job = run_one(session, url, tmp_path)
    requests = http_server.requests_for("/later.bin")
    assert job.state is JobState.DONE and job.attempts == 2
    assert requests[1].time - requests[0].time >= 1.0
    assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, "401 Unauthorized"), (403, "403 Forbidden"), (404, "404 Not Found"), (410, "410 Gone")],
)
def test_a_permanent_error_takes_one_attempt_and_says_why(
    session: Session, http_server: TestServer, tmp_path: Path, status: int, message: str
) -> None:
    job = run_one(session, http_server.add(f"/p{status}", b"", status=status), tmp_path)
    assert (job.state, job.attempts) == (JobState.FAILED, 1)
    assert job.error == f"server answered HTTP {message}"
    assert len(http_server.requests_for(f"/p{status}")) == 1


def test_a_checksum_mismatch_is_permanent(session: Session, http_server: TestServer, tmp_path: Path) -> None:
    url = http_server.add("/sum.bin", payload("sum", 5000))
    job = run_one(session, f"{url} sha256={'1' * 64}", tmp_path)
    assert (job.state, job.attempts) == (JobState.FAILED, 1)
    assert job.error is not None and job.error.startswith("checksum mismatch")
    assert list(tmp_path.glob("sum*")) == []


def test_failed_jobs_can_be_retried_and_marked_resolved(
    session: Session, http_server: TestServer, tmp_path: Path
) -> None:
    url = http_server.add("/later.bin", payload("later", 2000), status=404)
    job = run_one(session, url, tmp_path)
    assert job.state is JobState.FAILED
    session.mark_resolved(job.id)
    assert session.wait(5)
    assert session.job(job.id).resolved  # type: ignore[union-attr]
    http_server.add("/later.bin", payload("later", 2000))
    session.retry_failed(job.id)
    assert session.wait(30)
    again = session.job(job.id)
    assert again is not None and (again.state, again.resolved, again.attempts) == (JobState.DONE, False, 1)


def test_a_deleted_destination_gives_a_clear_reason(
    session: Session, http_server: TestServer, tmp_path: Path
) -> None:
    import shutil

    from tests.support.waiting import wait_until

    dest = tmp_path / "vanishing"
    url = http_server.add("/v.bin", payload("v", 400_000), rate=400_000)
    (job_id,) = session.add(parse_text(url).entries, str(dest))
    session.start()
    wait_until(lambda: (session.job(job_id) or pytest.fail()).bytes_done > 0, 20, "the download to start")
    shutil.rmtree(dest)
    assert session.wait(30)
    job = session.job(job_id)
    assert job is not None and job.state is JobState.FAILED
    assert job.error is not None and job.error.startswith("the destination folder is gone")


@pytest.mark.parametrize(("base", "cap"), [(10.0, 2.0), (1.0, 60.0), (0.05, 0.05), (3.0, 3.0)])
def test_a_backoff_never_exceeds_its_cap_even_when_the_base_is_larger(base: float, cap: float) -> None:
    from engine.worker import backoff_delay

    delays = [backoff_delay(attempt, base, cap) for attempt in range(1, 12) for _ in range(50)]
    assert max(delays) <= cap and min(delays) >= min(base / 2, cap)
    assert backoff_delay(1, base, cap, retry_after=1000) == cap


def test_a_failed_checksum_reports_no_bytes_kept(
    session: Session, http_server: TestServer, tmp_path: Path
) -> None:
    url = http_server.add("/sum2.bin", payload("sum2", 50_000))
    job = run_one(session, f"{url} sha256={'2' * 64}", tmp_path)
    assert job.state is JobState.FAILED and (job.bytes_done, job.part_path) == (0, None)


def test_a_failure_after_the_retries_keeps_the_part_and_retry_resumes_it(
    session: Session, http_server: TestServer, tmp_path: Path
) -> None:
    body = payload("kept", 300_000)
    url = http_server.add("/kept.bin", body, truncate=100_000)
    short = RetryPolicy(attempts=1)
    with JobStore(tmp_path / "data2") as store, Session("thread-pool", 2, short, store=store) as other:
        (job_id,) = other.add(parse_text(url).entries, str(tmp_path))
        other.start()
        assert other.wait(30)
        failed = other.job(job_id)
        assert failed is not None and failed.state is JobState.FAILED and failed.bytes_done == 100_000
        assert (tmp_path / "kept.bin.part").stat().st_size == 100_000
        http_server.add("/kept.bin", body)
        other.retry_failed(job_id)
        assert other.wait(30)
    assert (tmp_path / "kept.bin").read_bytes() == body
    assert http_server.requests_for("/kept.bin")[-1].header("Range") == "bytes=100000-"


@pytest.mark.parametrize("mode", ["thread-pool", "process-pool"])
def test_a_job_waiting_out_its_backoff_pauses_at_once_and_resumes_later(
    mode: str, http_server: TestServer, tmp_path: Path
) -> None:
    data = payload("patient", 50_000)
    url = http_server.add("/patient.bin", data, fail_first=1, status=503)
    with Session(mode, 2, RetryPolicy(attempts=3, base_delay=60.0, max_delay=60.0)) as session:
        (job_id,) = session.add(parse_text(url).entries, str(tmp_path))
        session.start()
        wait_until(lambda: session.job(job_id).next_attempt_at is not None, 30, "a backoff")  # type: ignore[union-attr]
        session.pause(job_id)
        wait_until(lambda: session.job(job_id).state is JobState.PAUSED, 5, "the pause, not a minute later")  # type: ignore[union-attr]
        session.resume(job_id)
        assert session.wait(30)
        job = session.job(job_id)
        assert job is not None and job.state is JobState.DONE
        assert (tmp_path / "patient.bin").read_bytes() == data
