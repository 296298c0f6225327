"""The session's decisions alone, with a fake runner: names reserved before files exist, answers only
after the store has them, and a failure that fails one job or stops the run, never hangs it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from engine.events import JobFinished, JobStarted, NameGranted, NameRequest, Progress, Task
from engine.jobs import Job, JobState, Outcome, StopAction
from engine.limits import Ceiling
from engine.modes import MODES, Runner
from engine.session import Session
from engine.sources import parse_text
from engine.store import ErrorRecord, JobStore
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(30)


class FakeRunner(Runner):
    """Takes every task at once and runs none: the test plays the workers by sending their events."""

    name: ClassVar[str] = "fake"
    label: ClassVar[str] = "Fake"
    description: ClassVar[str] = "A runner whose workers are the test."
    last: ClassVar[FakeRunner | None] = None

    def __init__(self, events: Any, workers: int | None = None, worker_ids: Any = None) -> None:
        super().__init__(events, workers, worker_ids)
        self.tasks: list[Task] = []
        self.answers: list[tuple[int, NameGranted]] = []
        self.on_answer = lambda message: None
        self._running: set[int] = set()
        self._lock = threading.Lock()
        FakeRunner.last = self

    def ceiling(self) -> Ceiling:
        return Ceiling(100, "the test")

    def start(self) -> None:
        pass  # no worker threads: the test is the workers

    def capacity(self) -> int:
        return 100 - len(self._running)

    def run(self, task: Task) -> int:
        with self._lock:
            self.tasks.append(task)
            self._running.add(task.job_id)
        return task.job_id  # the test's worker ids are the job ids

    def running_job_ids(self) -> set[int]:
        return set(self._running)

    def job_finished(self, worker_id: int) -> None:
        self._running.discard(worker_id)  # the test's worker ids are the job ids

    def answer(self, worker_id: int, message: NameGranted) -> None:
        self.on_answer(message)
        with self._lock:
            self.answers.append((worker_id, message))

    def stop_job(self, job_id: int, action: StopAction) -> None:
        if job_id in self._running:  # as a worker does: it stops and says so
            self.events.put(JobFinished(job_id, job_id, Outcome.of_stop(action), 1))

    def tick(self) -> None:
        pass

    def shutdown(self, timeout: float = 5.0) -> None:
        pass


@pytest.fixture
def fake_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(MODES, "fake", FakeRunner)
    yield


def runner() -> FakeRunner:
    assert FakeRunner.last is not None
    return FakeRunner.last


def started(session: Session, urls: Iterable[str], folder: Path) -> list[int]:
    """Add and start `urls`; once every task is out and its offered name recorded, the answers so far
    (the offers') are cleared, so a test sees only the answers to the requests it makes."""
    ids = session.add(parse_text("\n".join(urls)).entries, str(folder))
    session.start()
    wait_until(lambda: len(runner().tasks) == len(ids), 5, "every task handed out")
    offered = {t.job_id for t in runner().tasks if t.offered}
    wait_until(lambda: {m.job_id for _, m in runner().answers} >= offered, 5, "every offer recorded")
    runner().answers.clear()
    return ids


def ask(job_id: int, wanted: str) -> None:
    runner().events.put(NameRequest(job_id, job_id, wanted, 1000, '"v"'))


def answer_for(job_id: int) -> NameGranted:
    wait_until(lambda: any(m.job_id == job_id for _, m in runner().answers), 5, f"an answer for {job_id}")
    return next(m for _, m in runner().answers if m.job_id == job_id)


def test_jobs_asking_for_one_name_get_distinct_names_skipping_files_and_held_names(
    fake_mode: None, tmp_path: Path
) -> None:
    (tmp_path / "a.bin").write_bytes(b"there already")
    (tmp_path / "a (2).bin.part").write_bytes(b"someone's partial file")
    with Session("fake") as session:
        ids = started(session, [f"http://h.example/{i}" for i in range(3)], tmp_path)
        for job_id in ids:
            ask(job_id, "a.bin")
        names = [answer_for(job_id).name for job_id in ids]
        assert names == ["a (1).bin", "a (3).bin", "a (4).bin"]
        assert [answer_for(job_id).part_path for job_id in ids] == [
            str(tmp_path / f"{name}.part") for name in names]
        job = session.job(ids[0])
        assert job is not None and (job.name, job.total, job.validator) == ("a (1).bin", 1000, '"v"')


def test_the_answer_goes_out_only_once_the_store_holds_the_name(fake_mode: None, tmp_path: Path) -> None:
    seen_in_store: list[Job | None] = []
    with JobStore(tmp_path / "data") as store, Session("fake", store=store) as session:
        (job_id,) = started(session, ["http://h.example/f"], tmp_path)
        runner().on_answer = lambda message: seen_in_store.append(store.get(message.job_id))
        ask(job_id, "f.bin")
        assert answer_for(job_id).name == "f.bin"
    (stored,) = seen_in_store
    assert stored is not None and (stored.name, stored.part_path) == ("f.bin", str(tmp_path / "f.bin.part"))


def test_a_new_file_is_offered_its_urls_name_and_told_once_the_store_holds_it(
    fake_mode: None, tmp_path: Path
) -> None:
    (tmp_path / "f.bin").write_bytes(b"there already")
    seen_in_store: list[Job | None] = []
    with JobStore(tmp_path / "data") as store, Session("fake", store=store) as session:
        runner().on_answer = lambda message: seen_in_store.append(store.get(message.job_id))
        ids = session.add(parse_text("http://h.example/f.bin\nhttp://h.example/dir/f.bin").entries,
                          str(tmp_path))
        session.start()
        wait_until(lambda: len(runner().answers) == 2, 5, "two offers recorded")
    assert [(t.offered, t.name, t.part_path) for t in runner().tasks] == [
        (True, "f (1).bin", str(tmp_path / "f (1).bin.part")),
        (True, "f (2).bin", str(tmp_path / "f (2).bin.part")),
    ]
    assert [(m.job_id, m.name) for _, m in runner().answers] == [(ids[0], "f (1).bin"), (ids[1], "f (2).bin")]
    assert [(j.name, j.part_path) for j in seen_in_store if j is not None] == [
        (t.name, t.part_path) for t in runner().tasks
    ]


def test_an_offer_not_taken_is_given_up_and_its_name_offered_again(fake_mode: None, tmp_path: Path) -> None:
    with Session("fake") as session:
        (first,) = started(session, ["http://h.example/f.bin"], tmp_path)
        runner().events.put(JobFinished(first, first, Outcome.FAILED, 1, error="server answered HTTP 404"))
        wait_until(lambda: session.job(first).state is JobState.FAILED, 5, "the first job failed")  # type: ignore[union-attr]
        job = session.job(first)
        assert job is not None and (job.name, job.part_path) == (None, None)  # a retry names it anew
        session.add(parse_text("http://h.example/other/f.bin").entries, str(tmp_path))
        wait_until(lambda: len(runner().tasks) == 2, 5, "the second task handed out")
        assert runner().tasks[-1].name == "f.bin"  # the failed job's offer holds nothing


def test_a_name_held_by_a_job_of_an_earlier_run_is_not_given_again(fake_mode: None, tmp_path: Path) -> None:
    with JobStore(tmp_path / "data") as store:
        store.add([Job("http://h.example/old", str(tmp_path), id=500, state=JobState.PAUSED, name="f.bin",
                       part_path=str(tmp_path / "f.bin.part"))])
        with Session("fake", store=store) as session:  # a `get` of another list: the old job stays stored
            (job_id,) = started(session, ["http://h.example/new"], tmp_path)
            ask(job_id, "f.bin")
            assert answer_for(job_id).name == "f (1).bin"


class FailingStore(JobStore):
    """A real store whose disk fills up after `good` saves."""

    good = 1

    def save_many(self, jobs: Iterable[Job], errors: Iterable[ErrorRecord] = ()) -> None:
        FailingStore.good -= 1
        if FailingStore.good < 0:
            raise sqlite3.OperationalError("database or disk is full")
        super().save_many(jobs, errors)


def test_a_store_that_cannot_save_stops_the_run_and_answers_nobody(fake_mode: None, tmp_path: Path) -> None:
    FailingStore.good = 1
    store = FailingStore(tmp_path / "data")
    try:
        session = Session("fake", store=store)
        session.add(parse_text("http://h.example/f").entries, str(tmp_path))
        session.start()
        assert session.wait(10)  # returns: the session does not hang
        assert session.broken is not None and "database or disk is full" in session.broken
        assert session.stats().broken == session.broken
        assert runner().answers == []  # no file may be made that the store does not know
        session.shutdown()
    finally:
        store.close()


def test_an_event_that_breaks_a_handler_fails_only_its_job(fake_mode: None, tmp_path: Path) -> None:
    with Session("fake") as session:
        bad, good = started(session, ["http://h.example/bad", "http://h.example/good"], tmp_path)
        runner().events.put(Progress(bad, "not a number", 0.0))  # type: ignore[arg-type]
        runner().events.put(JobStarted(good, good, 1, "worker-1", 1))
        Path(str(session.job(good).part_path)).write_bytes(b"12345")  # type: ignore[union-attr]
        runner().events.put(JobFinished(good, good, Outcome.DONE, 1, 5, "ab" * 32))
        assert session.wait(5)
        failed, done = session.job(bad), session.job(good)
        assert failed is not None and failed.state is JobState.FAILED
        assert failed.error is not None and failed.error.startswith("internal error: TypeError")
        assert done is not None and done.state is JobState.DONE
        runner().events.put(JobFinished(bad, bad, Outcome.DONE, 1, 5, "cd" * 32))
        ask(bad, "late.bin")  # a worker that had not heard yet
        assert answer_for(bad).name is None
        assert session.job(bad).state is JobState.FAILED  # type: ignore[union-attr]
