"""Session.stats() keeps its counts as jobs change; they must always match a count of the jobs themselves."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from engine.jobs import JobState
from engine.protocol import SessionStats
from engine.session import Session
from engine.sources import parse_text
from tests.support.http_server import TestServer, payload
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(90)
SLOW = 256 * 1024  # bytes per second


def counted(stats: SessionStats) -> tuple[int, ...]:
    return (stats.total, stats.queued, stats.running, stats.paused, stats.done, stats.failed,
            stats.cancelled, stats.bytes_done)


def recounted(session: Session) -> tuple[int, ...]:
    jobs = session.jobs()
    states = Counter(job.state for job in jobs)
    return (len(jobs), states[JobState.QUEUED], states[JobState.RUNNING], states[JobState.PAUSED],
            states[JobState.DONE], states[JobState.FAILED], states[JobState.CANCELLED],
            sum(job.bytes_done for job in jobs))


def test_stats_match_the_jobs_through_pause_cancel_fail_remove_and_clear(
    http_server: TestServer, tmp_path: Path
) -> None:
    fast = [http_server.add(f"/s{i}.bin", payload(f"s{i}", 10_000 + 101 * i)) for i in range(10)]
    slow = [http_server.add(f"/slow{i}.bin", payload(f"slow{i}", 4 * SLOW), rate=SLOW) for i in range(3)]
    broken = http_server.add("/gone.bin", b"x", status=404)
    with Session("thread-pool", 4) as session:
        ids = session.add(parse_text("\n".join([*slow, *fast, broken])).entries, str(tmp_path))
        assert counted(session.stats()) == recounted(session)
        session.start()
        wait_until(lambda: all(job.bytes_done > 0 for job in session.jobs()[:3]), 20, "the slow ones to run")
        session.pause(ids[0])
        session.cancel(ids[1])
        session.remove(ids[2])
        assert session.wait(60)
        stats = session.stats()
        assert counted(stats) == recounted(session)
        assert (stats.total, stats.paused, stats.cancelled, stats.done, stats.failed) == (13, 1, 1, 10, 1)
        assert stats.running == 0 and stats.speed == 0
        session.clear_finished()
        assert session.wait(10)
        (paused,) = session.jobs()
        assert counted(session.stats()) == recounted(session) == (1, 0, 0, 1, 0, 0, 0, paused.bytes_done)
