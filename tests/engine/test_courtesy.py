"""Courtesy: background threads step aside while the foreground thread is busy or overdue, and only then."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.courtesy import ABANDONED, AFTER, COURTESY, MOST, OVERDUE, PAUSE, Courtesy
from engine.jobs import JobState
from engine.session import Session
from engine.sources import parse_text
from tests.support.http_server import TestServer, payload

pytestmark = pytest.mark.timeout(60)
MOST_PAUSES = round(MOST / PAUSE)


class FakeTime:
    """A clock that moves only when told, and a sleep that records its calls and moves the clock."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def courtesy(fake: FakeTime) -> Courtesy:
    return Courtesy(fake.clock, fake.sleep)


def test_without_a_heartbeat_nobody_steps_aside(courtesy: Courtesy, fake: FakeTime) -> None:
    courtesy.step_aside()
    assert fake.sleeps == 0 and not courtesy.wanted()


def test_a_fresh_beat_lets_work_go_on(courtesy: Courtesy, fake: FakeTime) -> None:
    courtesy.beat()
    fake.now += OVERDUE / 2
    courtesy.step_aside()
    assert fake.sleeps == 0


def test_an_overdue_beat_makes_threads_step_aside_at_most_MOST(courtesy: Courtesy, fake: FakeTime) -> None:
    courtesy.beat()
    fake.now += OVERDUE * 1.5
    courtesy.step_aside()
    assert fake.sleeps == MOST_PAUSES


def test_a_beat_in_the_meantime_ends_the_wait(courtesy: Courtesy, fake: FakeTime) -> None:
    def sleep_then_beat(seconds: float) -> None:
        fake.sleep(seconds)
        if fake.sleeps == 3:
            courtesy.beat()  # the foreground thread got the GIL and beat again

    courtesy = Courtesy(fake.clock, sleep_then_beat)
    courtesy.beat()
    fake.now += OVERDUE * 1.5
    courtesy.step_aside()
    assert fake.sleeps == 3


def test_an_abandoned_or_stopped_heartbeat_holds_nobody(courtesy: Courtesy, fake: FakeTime) -> None:
    courtesy.beat()
    fake.now += ABANDONED * 2  # the window hung or went away without stopping its heartbeat
    courtesy.step_aside()
    courtesy.beat()
    courtesy.stop_beating()
    fake.now += OVERDUE * 1.5
    courtesy.step_aside()
    assert fake.sleeps == 0


def test_threads_step_aside_while_the_foreground_is_busy_and_go_on_after(fake: FakeTime) -> None:
    busy = None

    def sleep_then_finish(seconds: float) -> None:
        fake.sleep(seconds)
        if fake.sleeps == 4 and busy is not None:
            busy.__exit__(None, None, None)  # the foreground's repaint ends

    courtesy = Courtesy(fake.clock, sleep_then_finish)
    busy = courtesy.busy()
    busy.__enter__()
    assert courtesy.wanted()
    courtesy.step_aside()
    assert fake.sleeps == 4 and not courtesy.wanted()


def test_a_reservation_holds_threads_until_the_busy_block_after_it_is_done(
    courtesy: Courtesy, fake: FakeTime
) -> None:
    courtesy.reserve(1.0)  # the refresh is due in a few milliseconds
    assert courtesy.wanted()
    with courtesy.busy():
        fake.now += 0.005
    fake.now += AFTER / 2  # the repaint that follows the refresh
    assert courtesy.wanted()
    fake.now += AFTER
    assert not courtesy.wanted()


def test_an_unused_reservation_lapses_and_stopping_the_heartbeat_drops_it(
    courtesy: Courtesy, fake: FakeTime
) -> None:
    courtesy.reserve(0.01)
    fake.now += 0.011
    assert not courtesy.wanted()
    courtesy.reserve(0.01)
    courtesy.stop_beating()
    assert not courtesy.wanted()


def test_a_download_thread_waits_while_the_window_is_busy(http_server: TestServer, tmp_path: Path) -> None:
    """Held busy, the one download still lands byte-identical, but only after its thread stepped aside at
    each of its reports (job started, name resolved, bytes done, job finished), MOST seconds each."""
    data = payload("courteous", 50_000)
    url = http_server.add("/courteous.bin", data)
    with Session("thread-pool", 1) as session:
        session.add(parse_text(url).entries, str(tmp_path))
        with COURTESY.busy():
            started = time.monotonic()
            session.start()
            assert session.wait(30)
            held = time.monotonic() - started
        assert [job.state for job in session.jobs()] == [JobState.DONE]
    assert (tmp_path / "courteous.bin").read_bytes() == data
    assert held >= 4 * MOST
