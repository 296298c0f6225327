"""Live terminal progress: lines per running job, redrawn in place, and readable durations."""

from __future__ import annotations

import io

import pytest

from engine.jobs import Job, JobState
from engine.protocol import SessionStats
from engine.terminal import LiveProgress, format_duration

pytestmark = pytest.mark.timeout(10)


def stats(**counts: int) -> SessionStats:
    return SessionStats(
        "thread-pool",
        8,
        counts.get("total", 2),
        0,
        counts.get("running", 1),
        0,
        counts.get("done", 1),
        0,
        0,
        1536,
        1024.0,
        None,
        frozenset(),
    )


@pytest.mark.parametrize(("seconds", "text"), [(None, "–"), (5, "0:05"), (75, "1:15"), (3725, "1:02:05")])
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_draw_shows_running_jobs_and_redraws_over_the_previous_block() -> None:
    stream = io.StringIO()
    running = Job(
        "http://h/big.iso",
        "/tmp",
        state=JobState.RUNNING,
        name="big.iso",
        bytes_done=512,
        total=1024,
        speed=256.0,
    )
    live = LiveProgress(stream)
    live.draw([running, Job("http://h/q", "/tmp", id=2)], stats(), 3.0)
    first = stream.getvalue()
    assert "big.iso" in first and " 50% of 1.0 KiB" in first and "ETA 0:02" in first
    assert "1/2 done, 0 failed, 1 running" in first
    live.draw([running], stats(), 4.0)
    assert stream.getvalue()[len(first) :].startswith("\x1b[2F\x1b[J")
