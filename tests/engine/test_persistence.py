"""Nothing lost: restart order, re-runs that resume, SIGKILL of the whole app, a full or read-only disk."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.jobs import JobState
from engine.session import Session
from engine.sources import parse_text
from engine.store import DATA_DIR_ENV, JobStore
from engine.transfer import CHECKPOINT_EVERY
from tests.support.http_server import TestServer, payload
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]
RATE = 512 * 1024
SIZE = 3 * 1024 * 1024


def get(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py", "get", *args], cwd=ROOT, capture_output=True, text=True, timeout=100
    )


def test_500_queued_jobs_come_back_in_the_same_order_with_their_priorities(tmp_path: Path) -> None:
    urls = [f"http://127.0.0.1:9/f{i}.bin" for i in range(500)]
    with JobStore(tmp_path / "data") as store:
        session = Session("thread-pool", 4, store=store)
        for start in range(0, 500, 50):  # ten batches with mixed priorities
            session.add(
                parse_text("\n".join(urls[start : start + 50])).entries,
                str(tmp_path),
                priority=(start // 50) % 3 - 1,
            )
        session.shutdown()
        before = [(j.url, j.priority, j.state) for j in store.load()]
    with JobStore(tmp_path / "data") as store:
        restored = Session("thread-pool", 4, store=store, restore=True)
        after = sorted(restored.jobs(), key=lambda j: (-j.priority, j.id))
        restored.shutdown()
    assert len(before) == 500
    assert [(j.url, j.priority, j.state) for j in after] == before
    assert [p for _, p, _ in before[:50]] == [1] * 50  # the highest priority first
    assert {s for _, _, s in before} == {JobState.QUEUED}


def test_a_queue_runs_by_priority_then_by_order_added(http_server: TestServer, tmp_path: Path) -> None:
    urls = [http_server.add(f"/q{i}.bin", payload(f"q{i}", 1000)) for i in range(6)]
    session = Session("sequential")
    try:
        low = session.add(parse_text("\n".join(urls[:3])).entries, str(tmp_path), priority=0)
        high = session.add(parse_text("\n".join(urls[3:])).entries, str(tmp_path), priority=5)
        session.set_priority(low[2], 9)
        session.start()
        assert session.wait(30)
    finally:
        session.shutdown()
    order = sorted(session.jobs(), key=lambda j: j.started_at or 0)
    assert [j.id for j in order] == [low[2], *high, low[0], low[1]]


def test_get_again_resumes_unfinished_and_skips_finished_files(
    http_server: TestServer, tmp_path: Path
) -> None:
    done_url = http_server.add("/done.bin", payload("done", 50_000))
    cut_url = http_server.add("/cut.bin", payload("cut", 400_000), truncate=150_000)
    first = get(done_url, cut_url, "-d", str(tmp_path), "--attempts", "1", "--json")
    assert first.returncode == 1
    assert [j["state"] for j in json.loads(first.stdout)["jobs"]] == ["done", "failed"]
    http_server.add("/cut.bin", payload("cut", 400_000))
    second = get(done_url, cut_url, "-d", str(tmp_path), "--json")
    assert second.returncode == 0, second.stderr
    assert len(http_server.requests_for("/done.bin")) == 1  # finished and verified: not fetched again
    assert http_server.requests_for("/cut.bin")[-1].header("Range") == "bytes=150000-"
    assert (tmp_path / "cut.bin").read_bytes() == payload("cut", 400_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.bin", "done.bin"]


@pytest.mark.parametrize("mode", ["sequential", "threads", "thread-pool", "processes", "process-pool"])
def test_sigkill_of_the_whole_app_then_get_again_refetches_only_what_was_not_fsynced(
    mode: str, http_server: TestServer, tmp_path: Path
) -> None:
    urls = [http_server.add(f"/big{i}.bin", payload(f"big{i}", SIZE), rate=RATE) for i in range(3)]
    dest, data = tmp_path / "dest", str(tmp_path / "data")
    args = ["-d", str(dest), "-m", mode, "-w", "3", "--data-dir", data]
    app = subprocess.Popen(
        [sys.executable, "main.py", "get", *urls, *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    running_at_once = 1 if mode == "sequential" else 3
    try:
        wait_until(
            lambda: sum(p.stat().st_size for p in dest.glob("*.part")) > running_at_once * 2.5 * RATE,
            60,
            "about 2.5 s of data for each running file",
        )
    finally:
        os.killpg(app.pid, signal.SIGKILL)
        app.wait(10)
    at_kill = {p.name.removesuffix(".part"): p.stat().st_size for p in dest.glob("*.part")}
    with JobStore(data) as store:
        recorded = {j.name: j.bytes_done for j in store.load() if j.name in at_kill}
    for i in range(3):
        http_server.add(f"/big{i}.bin", payload(f"big{i}", SIZE))
    again = get(*urls, *args, "--json")
    assert again.returncode == 0, again.stderr
    not_fsynced = {name: at_kill[name] - recorded[name] for name in at_kill}
    for name, offset in recorded.items():
        i = int(name.removeprefix("big").removesuffix(".bin"))
        assert (dest / name).read_bytes() == payload(f"big{i}", SIZE)
        assert 0 < offset <= at_kill[name]  # a checkpoint was recorded, never beyond the data on disk
        resumed_from = http_server.requests_for(f"/{name}")[-1].header("Range")
        assert resumed_from == f"bytes={offset}-"  # fetched twice: exactly the bytes not fsynced
        assert not_fsynced[name] <= RATE * (CHECKPOINT_EVERY + 1.0)
    print(f"\n{mode}: .part at kill {at_kill}; fsynced and recorded {recorded}; fetched twice {not_fsynced}")
    assert sorted(p.name for p in dest.iterdir()) == [f"big{i}.bin" for i in range(3)]


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A small file system of our own (needs root), unmounted afterwards."""
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_fails_that_job_with_a_clear_reason_and_the_others_finish(
    http_server: TestServer, tmp_path: Path
) -> None:
    big = http_server.add("/huge.bin", payload("huge", 3 << 20))
    small = [http_server.add(f"/small{i}.bin", payload(f"small{i}", 10_000)) for i in range(3)]
    with tmpfs(tmp_path / "full", "size=1m") as full:
        session = Session("thread-pool", 2)
        try:
            (big_id,) = session.add(parse_text(big).entries, str(full))
            small_ids = session.add(parse_text("\n".join(small)).entries, str(tmp_path / "ok"))
            session.start()
            assert session.wait(30)
        finally:
            session.shutdown()
        job = session.job(big_id)
        assert job is not None and job.state is JobState.FAILED and job.attempts == 1
        assert job.error == "disk full while writing"
        assert list(full.iterdir()) == []  # no final file, and no .part left to fill the disk for others
        assert job.bytes_done == 0
    assert [session.job(i).state for i in small_ids] == [JobState.DONE] * 3  # type: ignore[union-attr]


def test_a_read_only_destination_fails_with_a_clear_reason(http_server: TestServer, tmp_path: Path) -> None:
    url = http_server.add("/ro.bin", payload("ro", 1000))
    with tmpfs(tmp_path / "ro", "size=1m,ro") as read_only:
        result = get(url, "-d", str(read_only), "--json")
    assert result.returncode == 1
    (job,) = json.loads(result.stdout)["jobs"]
    assert job["state"] == "failed" and job["attempts"] == 1
    assert job["error"].startswith("read-only file system while")


def test_the_data_dir_option_and_variable_choose_where_the_queue_lives(
    http_server: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = http_server.add("/where.bin", b"here")
    result = get(url, "-d", str(tmp_path / "out"), "--data-dir", str(tmp_path / "mine"))
    assert result.returncode == 0, result.stderr
    with JobStore(tmp_path / "mine") as store:
        assert [(j.url, j.state) for j in store.load()] == [(url, JobState.DONE)]
    assert os.environ[DATA_DIR_ENV] != str(tmp_path / "mine")


def test_a_full_data_folder_stops_get_with_a_message_and_an_exit_code(tmp_path: Path) -> None:
    urls = "\n".join(f"http://127.0.0.1:9/unreachable/{i:05d}/{'x' * 200}.bin" for i in range(3000))
    listing = tmp_path / "list.txt"
    listing.write_text(urls)
    with tmpfs(tmp_path / "data", "size=256k") as data:
        result = get("-i", str(listing), "-d", str(tmp_path / "out"), "--data-dir", str(data),
                     "--retry-base", "30")
    assert result.returncode == 3, result.stderr
    assert "database or disk is full" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("parafetch: ") <= 3  # one clear message, not one per job


def test_an_impossible_length_from_get_fails_the_job_and_get_exits(tmp_path: Path) -> None:
    from tests.support.raw_server import RawServer

    with RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nabc") as server:
        result = get(server.url, "-d", str(tmp_path), "--json")
    assert result.returncode == 1, result.stderr
    (job,) = json.loads(result.stdout)["jobs"]
    assert job["state"] == "failed" and job["error"].startswith("server declared a size of 9999")
    assert job["bytes"] == 0 and list(tmp_path.iterdir()) == []


def test_a_checksum_given_on_a_rerun_is_the_one_that_counts(http_server: TestServer, tmp_path: Path) -> None:
    body = payload("sum", 30_000)
    right, wrong = hashlib.sha256(body).hexdigest(), "0" * 64
    url = http_server.add("/sum.bin", body)
    args = ["-d", str(tmp_path / "out"), "--data-dir", str(tmp_path / "data"), "--json"]
    assert get(url, *args).returncode == 0
    rerun = get(url, f"sha256={wrong}", *args)  # the file there does not match what is asked now
    assert rerun.returncode == 1
    (job,) = json.loads(rerun.stdout)["jobs"]
    assert job["state"] == "failed" and "checksum mismatch" in job["error"] and job["bytes"] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sum.bin"]  # no twin, no .part
    fixed = get(url, f"sha256={right}", *args)  # the failed one, rerun with the right checksum
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["jobs"][0]["sha256"] == right


def test_a_url_with_a_comma_is_one_url(http_server: TestServer, tmp_path: Path) -> None:
    url = http_server.add("/f/a,b.bin", b"comma")
    result = get(url, "-d", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    assert [j["url"] for j in json.loads(result.stdout)["jobs"]] == [url]
    assert (tmp_path / "a,b.bin").read_bytes() == b"comma"
    assert http_server.requests_for("/f/a") == []


def test_a_deleted_destination_folder_is_an_error_not_made_again(
    http_server: TestServer, tmp_path: Path
) -> None:
    urls = [http_server.add(f"/d{i}.bin", b"x", latency=0.2) for i in range(3)]
    dest = tmp_path / "dest"
    session = Session("sequential")
    try:
        session.add(parse_text("\n".join(urls)).entries, str(dest))
        assert dest.is_dir()  # made when the jobs were added
        dest.rmdir()
        session.start()
        assert session.wait(30)
    finally:
        session.shutdown()
    assert not dest.exists()
    missing = f"the destination folder {dest} is missing (deleted or unmounted?)"
    assert {j.error for j in session.jobs()} == {missing}
    assert http_server.requests_for("/d0.bin") == []
