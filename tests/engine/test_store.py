"""The job store on real SQLite files: round trips, order, WAL, reconciling, threads and a killed writer."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from engine.jobs import Job, JobState
from engine.store import DB_NAME, JobStore, StoreError, default_data_dir

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
KEPT = (
    "id", "url", "dest_dir", "name", "part_path", "path", "state", "bytes_done", "total", "validator",
    "sha256_expected", "sha256", "priority", "attempts", "error", "resolved", "finished_at",
)  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    with JobStore(tmp_path / "data") as opened:
        yield opened


def reopen(store: JobStore) -> JobStore:
    store.close()
    return JobStore(store.data_dir)


def job(job_id: int, **fields: object) -> Job:
    """A job whose recorded offset is all fsynced (durable_bytes follows bytes_done unless given)."""
    fields = {"url": f"https://example.test/f{job_id}.bin", "dest_dir": "/downloads", **fields}
    fields.setdefault("durable_bytes", fields.get("bytes_done", 0))
    return Job(id=job_id, **fields)  # type: ignore[arg-type]


def kept(one: Job) -> dict[str, object]:
    return {name: getattr(one, name) for name in KEPT}


def test_every_stored_field_survives_a_restart(store: JobStore) -> None:
    full = job(
        7,
        sha256_expected="ab" * 32,
        priority=-3,
        state=JobState.PAUSED,
        name="f7 (1).bin",
        part_path="/downloads/f7 (1).bin.part",
        path="/downloads/f7 (1).bin",
        bytes_done=123_456_789_012,
        total=999_999_999_999,
        attempts=4,
        error="server answered HTTP 503 Service Unavailable",
        sha256="cd" * 32,
        validator='"etag-ü"',
        finished_at=1_700_000_000.25,
        speed=5.0,
        worker_pid=4242,
        worker_thread="worker-1",
        started_at=12.0,
        next_attempt_at=99.0,
    )
    store.save(full)
    store = reopen(store)
    try:
        (back,) = store.load()
        assert kept(back) == kept(full)
        assert back.state is JobState.PAUSED
        # What belongs to one run only is not kept.
        assert (back.speed, back.worker_pid, back.worker_thread, back.started_at, back.next_attempt_at) == (
            0.0,
            None,
            None,
            None,
            None,
        )
        assert store.get(7) == back and store.get(8) is None
    finally:
        store.close()


def test_save_updates_in_place_and_keeps_the_order(store: JobStore) -> None:
    store.add([job(1), job(2), job(3)])
    first = job(1, state=JobState.DONE, bytes_done=10, total=10, path="/downloads/f1.bin")
    store.save(first)
    store.save_many([job(4), job(2, attempts=2)])
    assert [j.id for j in store.load()] == [1, 2, 3, 4]
    assert kept(store.load()[0]) == kept(first)
    assert store.get(2) is not None and store.get(2).attempts == 2  # type: ignore[union-attr]


def test_500_jobs_with_mixed_priorities_come_back_in_the_same_order(store: JobStore) -> None:
    rng = random.Random(4)
    jobs = [job(i, priority=rng.choice([-2, 0, 0, 1, 5])) for i in range(1, 501)]
    for start in range(0, 500, 100):
        store.add(jobs[start : start + 100])
    expected = sorted(jobs, key=lambda j: (-j.priority, j.id))
    store = reopen(store)
    try:
        back = store.load()
        assert [(j.id, j.priority) for j in back] == [(j.id, j.priority) for j in expected]
        assert [kept(j) for j in back] == [kept(j) for j in expected]
        store.save(job(500, priority=9))
        assert [j.id for j in store.load()] == [500] + [j.id for j in expected if j.id != 500]
    finally:
        store.close()


def test_within_one_priority_jobs_keep_the_order_they_were_added(store: JobStore) -> None:
    store.add([job(3), job(1)])
    store.save(job(2))
    store.add([job(9, priority=1)])
    assert [j.id for j in store.load()] == [9, 3, 1, 2]
    store.save(job(2, priority=1))  # same priority as 9 now, and added before it
    assert [j.id for j in store.load()] == [2, 9, 3, 1]


def test_add_keeps_ids_refuses_a_known_one_and_reserved_ids_are_never_handed_out_twice(
    store: JobStore,
) -> None:
    assert store.reserve_ids(3) == range(1, 4)
    store.add([job(5), job(9)])
    assert store.reserve_ids(2) == range(10, 12)  # above every stored id
    with pytest.raises(sqlite3.IntegrityError):
        store.add([job(11), job(5)])
    assert [j.id for j in store.load()] == [5, 9]  # all or nothing
    store = reopen(store)
    try:
        assert store.reserve_ids(1) == range(12, 13)  # ids reserved and never stored are not reused
    finally:
        store.close()


def test_the_database_is_in_wal_mode_with_a_schema_version(store: JobStore) -> None:
    raw = sqlite3.connect(store.path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
    finally:
        raw.close()
    assert store.path == store.data_dir / DB_NAME


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    JobStore(tmp_path).close()
    raw = sqlite3.connect(tmp_path / DB_NAME)
    raw.execute("PRAGMA user_version = 3")
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        JobStore(tmp_path)


def test_the_data_dir_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "nested" / "data"
    monkeypatch.setenv("PARAFETCH_DATA_DIR", str(target))
    assert default_data_dir() == target
    with JobStore() as opened:
        opened.add([job(1)])
    assert (target / DB_NAME).is_file()
    monkeypatch.delenv("PARAFETCH_DATA_DIR")
    assert default_data_dir() == Path(platformdirs.user_data_dir("Parafetch", appauthor=False))


def test_find_returns_the_latest_job_for_a_url_and_folder(store: JobStore) -> None:
    url = "https://example.test/a.iso"
    store.add([Job(url, "/one", id=1), Job(url, "/two", id=2), Job(url, "/one", id=3, priority=-1)])
    assert store.find(url, "/two").id == 2  # type: ignore[union-attr]
    assert store.find(url, "/one").id == 3  # type: ignore[union-attr]
    assert store.find(url, "/three") is None


def test_error_history_is_kept_in_order_and_goes_with_its_job(store: JobStore) -> None:
    store.add([job(1), job(2)])
    store.save_many([], [(1, time.time(), 1, "connection lost after 1.0 MiB"),
                         (2, time.time(), 1, "server answered HTTP 404 Not Found")])
    later = [(1, time.time(), 2, "server answered HTTP 503 Service Unavailable"),
             (1, time.time(), 3, "server did not answer within 30 s")]
    store.save_many([job(1, attempts=3)], later)
    store = reopen(store)
    try:
        history = store.errors(1)
        assert [(attempt, message) for _, attempt, message in history] == [
            (1, "connection lost after 1.0 MiB"),
            (2, "server answered HTTP 503 Service Unavailable"),
            (3, "server did not answer within 30 s"),
        ]
        assert [at for at, _, _ in history] == sorted(at for at, _, _ in history)
        store.remove(1)
        assert store.errors(1) == [] and [j.id for j in store.load()] == [2]
        assert len(store.errors(2)) == 1
    finally:
        store.close()


def test_errors_of_a_job_that_was_never_stored_are_refused_with_the_whole_save(store: JobStore) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.save_many([job(1)], [(77, time.time(), 1, "no such job")])
    assert store.load() == []  # all or nothing


def part_job(tmp_path: Path, job_id: int, data: bytes | None, recorded: int, state: JobState) -> Job:
    name = f"f{job_id}.bin"
    part = tmp_path / f"{name}.part"
    if data is not None:
        part.write_bytes(data)
    return Job(
        f"https://example.test/{name}",
        str(tmp_path),
        id=job_id,
        state=state,
        name=name,
        part_path=str(part),
        bytes_done=recorded,
        durable_bytes=recorded,
        total=1_000_000,
        validator='"v1"',
    )


def test_reconcile_requeues_keeps_parts_for_the_transfer_to_check_and_forgets_missing_ones(
    store: JobStore, tmp_path: Path
) -> None:
    data = random.Random(1).randbytes(300_000)
    longer = part_job(tmp_path, 1, data, 100_000, JobState.RUNNING)
    missing = part_job(tmp_path, 3, None, 70_000, JobState.QUEUED)
    no_part = job(4, state=JobState.RUNNING, bytes_done=5)
    store.add([longer, missing, no_part])

    back = {j.id: j for j in store.reconcile()}

    assert (back[1].state, back[1].bytes_done) == (JobState.QUEUED, 100_000)
    assert Path(longer.part_path or "").read_bytes() == data  # untouched: the transfer checks it
    assert (back[3].state, back[3].bytes_done, back[3].part_sha256) == (JobState.QUEUED, 0, None)
    assert (back[4].state, back[4].bytes_done) == (JobState.QUEUED, 5)
    store = reopen(store)
    try:
        assert {j.id: (j.state, j.bytes_done) for j in store.load()} == {
            j.id: (j.state, j.bytes_done) for j in back.values()
        }
    finally:
        store.close()


def test_reconcile_removes_the_part_of_a_cancelled_job(store: JobStore, tmp_path: Path) -> None:
    cancelled = part_job(tmp_path, 1, b"x" * 500, 500, JobState.CANCELLED)
    store.add([cancelled])
    (back,) = store.reconcile()
    assert back.part_path is None and not Path(cancelled.part_path or "").exists()


def test_a_final_file_linked_to_its_part_is_done_and_the_part_goes(store: JobStore, tmp_path: Path) -> None:
    data = b"linked" * 1000
    linked = part_job(tmp_path, 1, data, 4096, JobState.RUNNING)
    linked.total = len(data)
    os.link(linked.part_path or "", tmp_path / "f1.bin")  # a crash between commit's link and unlink
    store.add([linked])
    (back,) = store.reconcile()
    assert (back.state, back.path, back.sha256) == (JobState.DONE, str(tmp_path / "f1.bin"),
                                                    hashlib.sha256(data).hexdigest())
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["f1.bin"]


def test_reconcile_leaves_finished_jobs_and_their_files_alone(store: JobStore, tmp_path: Path) -> None:
    final = tmp_path / "kept.bin"
    final.write_bytes(b"k" * 1000)
    done = job(1, state=JobState.DONE, path=str(final), bytes_done=1000, total=1000, dest_dir=str(tmp_path))
    gone = job(2, state=JobState.DONE, path=str(tmp_path / "gone.bin"), bytes_done=5, total=5)
    failed = part_job(tmp_path, 3, b"x" * 500, 100, JobState.FAILED)
    store.add([done, gone, failed])
    back = {j.id: j for j in store.reconcile()}
    assert kept(back[1]) == kept(done) and final.read_bytes() == b"k" * 1000
    assert kept(back[2]) == kept(gone)
    assert kept(back[3]) == kept(failed) and len(Path(failed.part_path or "").read_bytes()) == 500


def test_a_part_renamed_before_the_store_heard_is_done_not_fetched_again(
    store: JobStore, tmp_path: Path
) -> None:
    data = b"finished" * 1000
    good = part_job(tmp_path, 1, None, 4096, JobState.RUNNING)
    good.total, good.sha256_expected = len(data), hashlib.sha256(data).hexdigest().upper()
    (tmp_path / "f1.bin").write_bytes(data)
    corrupt = part_job(tmp_path, 2, None, 4096, JobState.RUNNING)
    corrupt.total, corrupt.sha256_expected = len(data), hashlib.sha256(b"other").hexdigest()
    (tmp_path / "f2.bin").write_bytes(data)
    store.add([good, corrupt])
    back = {j.id: j for j in store.reconcile()}
    assert (back[1].state, back[1].path, back[1].bytes_done) == (
        JobState.DONE,
        str(tmp_path / "f1.bin"),
        len(data),
    )
    assert back[1].sha256 == hashlib.sha256(data).hexdigest()
    assert (back[2].state, back[2].path, back[2].bytes_done) == (JobState.QUEUED, None, 0)


def test_several_threads_at_once_lose_nothing(store: JobStore) -> None:
    threads, saves = 4, 250
    store.add([job(t * 1000 + k) for t in range(threads) for k in range(saves)])
    start = threading.Barrier(threads + 1)
    failures: list[BaseException] = []
    stop_reading = threading.Event()

    def write(t: int) -> None:
        try:
            start.wait()
            for k in range(saves):
                one = job(t * 1000 + k, attempts=k + 1, priority=t, state=JobState.PAUSED,
                          bytes_done=(t + 1) * k)
                store.save_many([one], [(one.id, time.time(), k + 1, f"thread {t} save {k}")])
        except BaseException as exc:
            failures.append(exc)

    def read() -> None:
        try:
            start.wait()
            while not stop_reading.is_set():
                assert len(store.load()) == threads * saves
        except BaseException as exc:
            failures.append(exc)

    writers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    reader = threading.Thread(target=read)
    for thread in [*writers, reader]:
        thread.start()
    for thread in writers:
        thread.join()
    stop_reading.set()
    reader.join()
    assert failures == []
    store = reopen(store)
    try:
        back = {j.id: j for j in store.load()}
        assert len(back) == threads * saves
        for t in range(threads):
            for k in range(saves):
                one = back[t * 1000 + k]
                assert (one.attempts, one.priority, one.bytes_done) == (k + 1, t, (t + 1) * k)
                assert store.errors(one.id)[0][1:] == (k + 1, f"thread {t} save {k}")
    finally:
        store.close()


KILLED_WRITER = """
import os, signal, sys, threading, time
from engine.jobs import Job
from engine.store import JobStore

store = JobStore(sys.argv[1])
jobs = [Job(f"https://example.test/{i}", "/d", id=i) for i in range(1, 5)]
store.add(jobs)
committed = 0

def write():
    global committed
    i = 0
    while True:
        i += 1
        jobs[0].bytes_done = jobs[0].durable_bytes = i * 1024
        store.save_many(jobs[:1])
        for one in jobs[1:]:
            one.bytes_done = one.durable_bytes = i
        store.save_many(jobs[1:])
        committed = i

threading.Thread(target=write, daemon=True).start()
while committed < int(sys.argv[2]):
    time.sleep(0.001)
print(committed, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_writer_leaves_a_readable_store_with_every_committed_offset(tmp_path: Path) -> None:
    k = 100
    result = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path), str(k)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    seen = int(result.stdout.split()[0])
    assert seen >= k
    with JobStore(tmp_path) as store:
        raw = sqlite3.connect(store.path)
        try:
            assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            raw.close()
        back = {j.id: j.bytes_done for j in store.load()}
        assert back[1] >= seen * 1024
        # save_many is all or nothing: the three rows it writes always agree, one step behind at most.
        assert back[2] == back[3] == back[4]
        assert back[1] // 1024 - 1 <= back[2] <= back[1] // 1024
