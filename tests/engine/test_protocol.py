"""The wire protocol: every command and notice crosses a real pipe to a spawned process and back unchanged."""

from __future__ import annotations

import dataclasses
import multiprocessing
import typing
from multiprocessing.connection import Connection

import pytest

from engine import protocol
from engine.jobs import Job, JobState, JobView
from engine.monitor import MonitorSample, ProcessInfo
from engine.sources import UrlEntry
from engine.stage import StageConfig, StageResult, StageStats
from engine.thumbnails import Thumbnail

pytestmark = pytest.mark.timeout(60)

STATS = protocol.SessionStats("process-pool", 4, 3, 1, 1, 0, 1, 0, 0, 12345, 2048.5, "2 of 4 processes up",
                              frozenset({101, 102}), None,
                              StageStats(2, 1, 5, 0, 0.25, 2, 1, frozenset({201})))
JOB = JobView.of(Job("https://example.org/a.bin", "/tmp/d", "ab" * 32, 3, id=7, state=JobState.RUNNING,
                     name="a.bin", part_path="/tmp/d/a.bin.part", bytes_done=100, total=1000, speed=10.0,
                     credentials="alice:pw"), keep_credentials=False)
SAMPLE = MonitorSample(12.5, 3, 9, 150.0, 1 << 26, (ProcessInfo(1, "engine", 5, 100.0, 1 << 25),
                                                     ProcessInfo(2, "worker", 2, 50.0, 1 << 24)))
RESULT = StageResult(7, "/tmp/d/a.bin", "cd" * 32, True, Thumbnail(24, 16, b"\xff\xd8jpeg", (1, 2, 3)),
                     0.01, 201)

EXAMPLES: list[object] = [
    protocol.Add((UrlEntry("https://alice:***@example.org/a", "ab" * 32, 3, "Paste", "alice:pw"),), "/d", 2),
    protocol.Start(), protocol.Pause(7), protocol.Resume(), protocol.Cancel(7), protocol.RetryFailed(),
    protocol.MarkResolved(7), protocol.Remove(7), protocol.ClearFinished(), protocol.SetPriority(7, -1),
    protocol.SetMode("threads", 8), protocol.SetWorkers(3), protocol.SetStage(StageConfig(2, 1000)),
    protocol.SetStage(None), protocol.TakeStageResults(), protocol.AskHistory(7), protocol.AskLogins(),
    protocol.AskChanges(41), protocol.AskJobs(), protocol.AskJob(7), protocol.AskStats(),
    protocol.Shutdown(2),
    protocol.Snapshot(42, (JOB,), (3, 4), STATS, SAMPLE, 17, (RESULT,)),
    protocol.History(7, ((1700000000.5, 1, "HTTP 503"), (1700000001.5, 2, "timed out"))),
    protocol.Logins({7: "alice:pw"}), protocol.Refused("the mode cannot change while downloads run"),
    protocol.Note("error", "cannot keep the queue"), protocol.Stopped("the store broke", 3),
]


def _echo(conn: Connection) -> None:
    """In the spawned process: send back whatever arrives, until None."""
    while (message := conn.recv()) is not None:
        conn.send(message)


def test_every_command_and_notice_has_an_example() -> None:
    kinds = set(typing.get_args(protocol.Command)) | set(typing.get_args(protocol.Notice))
    assert kinds == {type(example) for example in EXAMPLES}


def test_every_message_crosses_a_pipe_to_another_process_and_back_unchanged() -> None:
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(target=_echo, args=(theirs,))
    child.start()
    try:
        for example in EXAMPLES:
            ours.send(example)
            assert ours.poll(10), f"no echo of {example!r}"
            back = ours.recv()
            assert back == example and type(back) is type(example)
            assert dataclasses.asdict(back) == dataclasses.asdict(example)  # type: ignore[call-overload]
        ours.send(None)
        child.join(10)
    finally:
        child.kill()
    assert child.exitcode == 0


def test_a_logins_answer_never_shows_the_passwords_in_a_log() -> None:
    assert "pw" not in repr(protocol.Logins({7: "alice:pw"})) and "pw" not in str(EXAMPLES[0])
