"""The engine core driven by hand, one message at a time, with fake workers and a fake clock: the order
of events that races hide in is written down here rather than hoped for."""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from engine import finisher, protocol, saving
from engine.core import SPEED_EVERY, STOP_WAIT, Engine
from engine.events import (
    JobFinished,
    JobStarted,
    NameGranted,
    NameRequest,
    Progress,
    Resolved,
    Task,
    WorkerExited,
)
from engine.finisher import Committed, commit_download
from engine.jobs import Job, JobState, Outcome
from engine.modes import MODES, Runner
from engine.sources import UrlEntry
from engine.store import ErrorRecord, JobStore
from engine.workers import Worker

pytestmark = pytest.mark.timeout(30)
MIB = 1024 * 1024


class FakeWorker(Worker):
    """A worker that only records what it is told: the test sends the events it would send."""

    def __init__(self, worker_id: int, events: object) -> None:
        super().__init__(worker_id, events)  # type: ignore[arg-type]
        self.told: list[Task | NameGranted | None] = []

    def start(self, task: Task | None) -> None:
        if task is not None:
            self.assign(task)

    def _send(self, message: Task | NameGranted | None) -> None:
        self.told.append(message)

    @property
    def alive(self) -> bool:
        return False

    @property
    def pid(self) -> int:
        return 0

    def join(self, timeout: float) -> None:
        pass


class FakePool(Runner):
    """A pool of fake workers, numbered as the real pools are."""

    name: ClassVar[str] = "fake-pool"
    label: ClassVar[str] = "Fake pool"
    description: ClassVar[str] = "A pool whose workers are the test."
    resizable: ClassVar[bool] = True
    made: ClassVar[list[FakePool]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        FakePool.made.append(self)

    def _spawn(self, task: Task | None) -> Worker:
        worker = FakeWorker(next(self._ids), self.events)
        self.workers[worker.worker_id] = worker
        worker.start(task)
        return worker

    def worker_of(self, job_id: int) -> int:
        return next(w.worker_id for w in self.workers.values() if w.job_id == job_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


INBOXES: dict[Engine, queue.SimpleQueue[object]] = {}  # each engine's inbox: where its finisher answers


def make_engine(*args: object, **kwargs: object) -> Engine:
    inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
    made = Engine(inbox, *args, **kwargs)  # type: ignore[arg-type]
    INBOXES[made] = inbox
    return made


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[Engine]:
    monkeypatch.setitem(MODES, FakePool.name, FakePool)
    FakePool.made.clear()
    made = make_engine(FakePool.name, 3, clock=clock)
    yield made
    made.close()


def add(engine: Engine, folder: Path, *names: str, priority: int = 0) -> list[int]:
    entries = tuple(UrlEntry(f"http://h.example/{name}") for name in names)
    ids = engine.apply(protocol.Add(entries, str(folder), priority))
    assert isinstance(ids, list)
    return ids


def pool() -> FakePool:
    return FakePool.made[-1]


def job(engine: Engine, job_id: int) -> Job:
    found = engine.apply(protocol.AskJob(job_id))
    assert isinstance(found, Job)
    return found


def state(engine: Engine, job_id: int) -> JobState:
    return job(engine, job_id).state


def downloaded(engine: Engine, job_id: int, data: bytes = b"12345", reported: int | None = None) -> None:
    """The job's worker took its offered name, wrote its part and reports `reported` bytes done."""
    offered = job(engine, job_id)
    assert offered.name is not None and offered.part_path is not None
    engine.on_event(Resolved(job_id, offered.name, offered.part_path, len(data), None, 0))
    Path(offered.part_path).write_bytes(data)
    size = len(data) if reported is None else reported
    engine.on_event(JobFinished(job_id, pool().worker_of(job_id), Outcome.DONE, 1, size, "ab" * 32))


def committed(engine: Engine, job_id: int) -> Committed:
    """The finisher's answer about the job, as it comes to the engine's inbox (not yet handed over)."""
    answer = INBOXES[engine].get(timeout=10)
    assert isinstance(answer, Committed) and answer.job_id == job_id
    return answer


def finish(engine: Engine, job_id: int, outcome: Outcome = Outcome.DONE) -> None:
    """The job's worker reports its end; a download is committed after."""
    if outcome is not Outcome.DONE:
        engine.on_event(JobFinished(job_id, pool().worker_of(job_id), outcome, 1))
        return
    downloaded(engine, job_id)
    engine.on_event(committed(engine, job_id))


def test_the_exits_of_a_replaced_pools_workers_never_touch_the_new_pools_jobs(
    engine: Engine, tmp_path: Path
) -> None:
    engine.apply(protocol.Start())
    old_workers = sorted(pool().workers)
    engine.apply(protocol.SetMode(FakePool.name, 3))  # the old pool ends while the new one takes the jobs
    ids = add(engine, tmp_path, "a", "b", "c")
    engine.apply(protocol.Start())
    engine.step()
    assert sorted(pool().running_job_ids()) == ids
    assert not set(pool().workers) & set(old_workers)  # numbered across pools
    for worker_id in old_workers:  # the old pool's exits arrive late, after the new jobs started
        engine.on_event(WorkerExited(worker_id, 0, 0))
    assert [state(engine, job_id) for job_id in ids] == [JobState.RUNNING] * 3
    for job_id in ids:
        finish(engine, job_id)
    assert [state(engine, job_id) for job_id in ids] == [JobState.DONE] * 3
    assert engine.settled()


def test_a_handler_that_raises_fails_its_one_job_and_logs_why_while_the_rest_finish(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad, good = add(engine, tmp_path, "bad", "good")
    engine.apply(protocol.Start())
    engine.step()
    with caplog.at_level(logging.ERROR, logger="parafetch"):
        engine.on_event(Progress(bad, "lots", 1.0))  # type: ignore[arg-type]
    assert any(record.exc_info for record in caplog.records)  # the traceback is in the log
    engine.on_event(JobStarted(good, pool().worker_of(good), 1, "worker", 1))
    finish(engine, good)
    failed = job(engine, bad)
    assert failed.state is JobState.FAILED
    assert failed.error is not None
    assert failed.error.startswith("internal error: TypeError: progress must count bytes")
    assert state(engine, good) is JobState.DONE
    assert engine.broken is None


def test_a_speed_is_the_bytes_over_the_time_they_took_to_arrive_however_late_the_reports_are_read(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    (job_id,) = add(engine, tmp_path, "capped")
    engine.apply(protocol.Start())
    engine.step()
    start = clock.now
    clock.now += 5.0  # twenty reports of a 1 MiB/s download waited, and are all read now
    for tenth in range(21):
        engine.on_event(Progress(job_id, tenth * MIB // 10, start + tenth / 10))
    clock.now = start + 2.0 + SPEED_EVERY
    engine.step()
    speed = job(engine, job_id).speed
    assert 0.9 * MIB <= speed <= 1.1 * MIB
    stats = engine.stats()
    assert stats.speed == speed


def test_a_resume_before_a_pausing_worker_answers_queues_the_job_again(
    engine: Engine, tmp_path: Path
) -> None:
    (job_id,) = add(engine, tmp_path, "a")
    engine.apply(protocol.Start())
    engine.step()
    engine.apply(protocol.Pause(job_id))
    engine.apply(protocol.Resume(job_id))  # too late to take back: the worker is already stopping
    assert state(engine, job_id) is JobState.RUNNING
    finish(engine, job_id, Outcome.PAUSED)
    engine.step()  # queued again, it starts again
    assert state(engine, job_id) is JobState.RUNNING
    assert job_id in pool().running_job_ids()


def test_higher_priority_starts_first_then_the_order_of_adding(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, tmp_path: Path
) -> None:
    monkeypatch.setitem(MODES, FakePool.name, FakePool)
    engine = make_engine(FakePool.name, 1, clock=clock)
    low, later_low = add(engine, tmp_path, "low", "later-low")
    (high,) = add(engine, tmp_path, "high", priority=5)
    engine.apply(protocol.Start())
    started = []
    for _ in range(3):
        engine.step()
        (running,) = pool().running_job_ids()
        started.append(running)
        finish(engine, running)
    assert started == [high, low, later_low]
    engine.close()


def test_a_shutdown_waits_for_running_jobs_only_so_long_and_queues_them_for_next_time(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    stops, never = add(engine, tmp_path, "stops", "never-answers")
    engine.apply(protocol.Start())
    engine.step()
    engine.apply(protocol.Shutdown())
    finish(engine, stops, Outcome.PAUSED)
    assert not engine.ended  # one worker has not answered yet
    deadline = engine.next_deadline()
    assert deadline is not None and deadline <= clock.now + STOP_WAIT
    clock.now += STOP_WAIT + 0.01
    assert engine.ended
    engine.close()
    assert [state(engine, stops), state(engine, never)] == [JobState.QUEUED, JobState.QUEUED]


class RecordingStore(JobStore):
    """A real store that counts its transactions of changed jobs and notes the done rows in `said`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.saves = 0
        self.said: list[tuple[str, object]] = []

    def save_many(self, jobs: Iterable[Job], errors: Iterable[ErrorRecord] = ()) -> None:
        jobs = list(jobs)
        self.saves += 1
        self.said.extend(("row", (j.id, j.state)) for j in jobs if j.state is JobState.DONE)
        super().save_many(jobs, errors)


def test_a_job_is_saved_done_only_after_its_folder_is_synced_once_per_save(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, tmp_path: Path
) -> None:
    monkeypatch.setitem(MODES, FakePool.name, FakePool)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    store = RecordingStore(tmp_path / "data")
    said = store.said  # syncs and saved done rows, in the order they happened
    monkeypatch.setattr(saving, "sync_folder", lambda folder: said.append(("sync", folder)))
    with store:
        made = make_engine(FakePool.name, 3, store=store, clock=clock)
        first, second = add(made, tmp_path / "a", "1", "2")
        (third,) = add(made, tmp_path / "b", "3")
        made.apply(protocol.Start())
        made.step()
        for job_id in (first, second, third):
            finish(made, job_id)
        assert said == []  # nothing saved before the batch is due
        clock.now += 1.0
        made.step()
        made.close()
    assert said == [
        ("sync", str(tmp_path / "a")),
        ("sync", str(tmp_path / "b")),
        ("row", (first, JobState.DONE)),
        ("row", (second, JobState.DONE)),
        ("row", (third, JobState.DONE)),
    ]


def test_one_save_records_the_names_of_many_dispatches_to_come(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, tmp_path: Path
) -> None:
    monkeypatch.setitem(MODES, FakePool.name, FakePool)
    store = RecordingStore(tmp_path / "data")
    with store:
        made = make_engine(FakePool.name, 3, store=store, clock=clock)
        ids = add(made, tmp_path, *(f"f{i}.bin" for i in range(10)))
        made.apply(protocol.Start())
        made.step()
        assert store.saves == 1
        assert [(j.name, j.part_path) for j in map(store.get, ids) if j is not None] == [
            (f"f{i}.bin", str(tmp_path / f"f{i}.bin.part")) for i in range(10)
        ]  # the seven still queued are named too
        finish(made, ids[0])
        made.step()  # the fourth starts: its name was saved, so the word goes with the task
        worker = pool().workers[pool().worker_of(ids[3])]
        assert isinstance(worker, FakeWorker)
        *_, task, word = worker.told
        assert isinstance(task, Task) and (task.job_id, task.offered) == (ids[3], True)
        assert word == NameGranted(ids[3], "f3.bin", str(tmp_path / "f3.bin.part"))
        assert store.saves == 1  # no save of its own before it could start
        made.close()


def test_a_name_offered_in_an_earlier_run_and_never_taken_is_offered_again(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, tmp_path: Path
) -> None:
    monkeypatch.setitem(MODES, FakePool.name, FakePool)
    with JobStore(tmp_path / "data") as store:
        store.add([Job("http://h.example/x.bin", str(tmp_path), id=7, state=JobState.QUEUED, name="x.bin",
                       part_path=str(tmp_path / "x.bin.part"))])  # (no such part: no file took the name)
        made = make_engine(FakePool.name, 3, store=store, restore=True, clock=clock)
        made.apply(protocol.Start())
        made.step()
        (task,) = [m for w in pool().workers.values() if isinstance(w, FakeWorker) for m in w.told
                   if isinstance(m, Task)]
        assert (task.job_id, task.offered, task.name) == (7, True, "x.bin")  # the server may still rename it
        made.close()


def test_a_downloaded_job_frees_its_worker_at_once_and_is_done_only_once_its_file_is_committed(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, tmp_path: Path
) -> None:
    monkeypatch.setitem(MODES, FakePool.name, FakePool)
    made = make_engine(FakePool.name, 1, clock=clock)
    first, second = add(made, tmp_path, "a.bin", "b.bin")
    made.apply(protocol.Start())
    made.step()
    downloaded(made, first, b"first file")
    made.step()
    assert pool().running_job_ids() == {second}  # the one worker went on to the next download
    assert state(made, first) is JobState.RUNNING and made.stats().saving == 1
    assert not made.settled()
    made.on_event(committed(made, first))
    done = job(made, first)
    assert (done.state, done.name, done.path) == (JobState.DONE, "a.bin", str(tmp_path / "a.bin"))
    assert done.part_path is None
    assert (tmp_path / "a.bin").read_bytes() == b"first file" and not (tmp_path / "a.bin.part").exists()
    assert made.stats().saving == 0
    made.close()


def test_a_name_another_file_took_before_the_commit_is_numbered_saved_then_given(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, tmp_path: Path
) -> None:
    monkeypatch.setitem(MODES, FakePool.name, FakePool)
    with JobStore(tmp_path / "data") as store:
        made = make_engine(FakePool.name, 2, store=store, clock=clock)
        job_id, other = add(made, tmp_path, "x.bin", "y.bin")
        made.apply(protocol.Start())
        made.step()
        (tmp_path / "x.bin").write_bytes(b"theirs")  # made by another program meanwhile
        downloaded(made, job_id, b"ours")
        made.on_event(answer := committed(made, job_id))
        assert answer.taken and job(made, job_id).name == "x (1).bin"
        assert not (tmp_path / "x (1).bin").exists()  # not before the store holds the name
        made.step()
        assert store.get(job_id).name == "x (1).bin"  # type: ignore[union-attr]
        made.on_event(committed(made, job_id))
        assert job(made, job_id).path == str(tmp_path / "x (1).bin")
        assert (tmp_path / "x (1).bin").read_bytes() == b"ours"
        assert (tmp_path / "x.bin").read_bytes() == b"theirs"
        made.on_event(NameRequest(other, pool().worker_of(other), "x (1).bin", None, None))  # its server's
        made.step()
        worker = pool().workers[pool().worker_of(other)]
        assert isinstance(worker, FakeWorker) and worker.told[-1] == NameGranted(
            other, "x (1) (1).bin", str(tmp_path / "x (1) (1).bin.part"))
        made.close()


@pytest.mark.parametrize(
    ("written", "error"),
    [(None, "while saving the finished file"), (b"12", "changed on disk")],
    ids=["part gone", "part cut after verifying"],
)
def test_a_part_that_is_not_the_verified_file_is_never_named(
    engine: Engine, tmp_path: Path, written: bytes | None, error: str
) -> None:
    (job_id,) = add(engine, tmp_path, "x.bin")
    engine.apply(protocol.Start())
    engine.step()
    if written is None:
        engine.on_event(JobFinished(job_id, pool().worker_of(job_id), Outcome.DONE, 1, 5, "ab" * 32))
    else:
        downloaded(engine, job_id, written, reported=5)
    engine.on_event(committed(engine, job_id))
    failed = job(engine, job_id)
    assert failed.state is JobState.FAILED and error in str(failed.error)
    assert not (tmp_path / "x.bin").exists()


@pytest.mark.parametrize(
    ("written", "state", "named"),
    [(b"12345", JobState.DONE, True), (None, JobState.QUEUED, False)],
    ids=["committed: done", "failed: queued for next time, as a shutdown leaves what it stops"],
)
def test_a_shutdown_applies_the_answers_of_the_commits_under_way(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, tmp_path: Path, written: bytes | None, state: JobState,
    named: bool,
) -> None:
    monkeypatch.setitem(MODES, FakePool.name, FakePool)
    with JobStore(tmp_path / "data") as store:
        made = make_engine(FakePool.name, 1, store=store, clock=clock)
        (job_id,) = add(made, tmp_path, "late.bin")
        made.apply(protocol.Start())
        made.step()
        if written is None:
            made.on_event(JobFinished(job_id, pool().worker_of(job_id), Outcome.DONE, 1, 5, "ab" * 32))
        else:
            downloaded(made, job_id, written)
        made.apply(protocol.Shutdown())
        assert not made.ended  # a file is still being committed
        made.close()  # before a turn of the loop read the finisher's answer
        saved = store.get(job_id)
        assert saved is not None and saved.state is state
        assert saved.path == (str(tmp_path / "late.bin") if named else None)
        if named:
            assert (tmp_path / "late.bin").read_bytes() == written


def test_a_part_is_fsynced_before_it_gets_its_final_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    order: list[str] = []
    monkeypatch.setattr(finisher.os, "fsync", lambda fd: order.append("fsync"))
    monkeypatch.setattr(finisher, "commit_part", lambda part, final: order.append("name"))
    (tmp_path / "f.part").write_bytes(b"12345")
    commit_download(str(tmp_path / "f.part"), tmp_path / "f", 5)
    assert order == ["fsync", "name"]
