"""`get` killed at any moment, stopped by SIGTERM, started twice on one folder: nothing lost or doubled."""

from __future__ import annotations

import functools
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from engine.store import DB_NAME
from tests.support.http_server import TestServer, payload
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
MODES = ["sequential", "threads", "thread-pool", "processes", "process-pool"]


def start_get(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "main.py", "get", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def catches_sigterm(pid: int) -> bool:
    """Whether a process has a handler for SIGTERM (main.py sets one first thing; Python sets none)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.MULTILINE).group(1), 16)  # type: ignore[union-attr]
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def get(*args: str, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", "get", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def rows(data: Path) -> list[tuple[str, str]]:
    """(url, state) of every job in a data folder's queue."""
    raw = sqlite3.connect(data / DB_NAME)
    try:
        return [(str(u), str(s)) for u, s in raw.execute("SELECT url, state FROM jobs ORDER BY id")]
    finally:
        raw.close()


def family(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


# ---- kill -9 at any moment ----------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_twenty_runs_killed_at_random_moments_then_rerun_leave_every_file_once_and_whole(
    http_server: TestServer, tmp_path: Path
) -> None:
    rng = random.Random(9)
    files = {f"/k/f{i:03d}.bin": payload(f"f{i}", rng.randrange(4_000, 120_000)) for i in range(200)}
    for path, body in files.items():
        http_server.add(path, body, latency=0.005)
    urls = [http_server.url(path) for path in files]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(urls) + "\n")
    modes = ["thread-pool", "threads", "process-pool", "sequential"]
    killed_with = {"parts": 0, "finished": 0}
    for run in range(20):
        mode = modes[run % len(modes)]
        dest, data = tmp_path / f"dest{run}", tmp_path / f"data{run}"
        args = ["-i", str(listing), "-d", str(dest), "--data-dir", str(data), "-m", mode, "-w", "8"]
        app = start_get(*args)
        time.sleep(rng.uniform(0.3, 2.5))  # a random moment of the run, start-up included (the point)
        os.killpg(app.pid, signal.SIGKILL)
        app.communicate(timeout=10)
        left = list(dest.iterdir()) if dest.exists() else []
        killed_with["parts"] += sum(p.suffix == ".part" for p in left)
        killed_with["finished"] += sum(p.suffix != ".part" for p in left)
        again = get(*args)
        assert again.returncode == 0, f"run {run} ({mode}): {again.stderr}"
        assert sorted(p.name for p in dest.iterdir()) == sorted(p.rsplit("/", 1)[1] for p in files), (
            f"run {run} ({mode}): twins or strays"
        )
        for path, body in files.items():
            assert (dest / path.rsplit("/", 1)[1]).read_bytes() == body, f"run {run} ({mode}): {path}"
        assert sorted(rows(data)) == sorted((url, "done") for url in urls), f"run {run} ({mode}): rows"
    print(f"\nat the kills: {killed_with['parts']} .part files, {killed_with['finished']} finished files")
    assert killed_with["parts"] > 0 and killed_with["finished"] > 0  # the kills did land mid-run


# ---- one owner per data folder ---------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_second_get_on_a_busy_data_folder_refuses_at_once_and_loses_nothing(
    http_server: TestServer, tmp_path: Path
) -> None:
    # 5 s of downloads: the first get still runs while the second starts, even on a loaded machine
    first = [http_server.add(f"/a{i}.bin", payload(f"a{i}", 1_000_000), rate=200_000) for i in range(3)]
    second = [http_server.add(f"/b{i}.bin", payload(f"b{i}", 20_000)) for i in range(50)]
    data = str(tmp_path / "data")
    running = start_get(*first, "-d", str(tmp_path / "a"), "--data-dir", data)
    try:
        wait_until(lambda: (tmp_path / "data" / DB_NAME).exists() and (tmp_path / "a").exists(), 20,
                   "a start")
        began = time.monotonic()
        refused = get(*second, "-d", str(tmp_path / "b"), "--data-dir", data)
        assert time.monotonic() - began < 5
        assert running.poll() is None, "the first get ended before the second began: nothing was tested"
        assert refused.returncode == 3
        holder = f"(pid {running.pid}, parafetch get)"
        assert f"the data folder {data} is in use by another Parafetch {holder}" in refused.stderr
        assert not (tmp_path / "b").exists()
        running.communicate(timeout=60)
    finally:
        if running.poll() is None:
            running.kill()
            running.communicate(timeout=10)
    assert running.returncode == 0
    again = get(*second, "-d", str(tmp_path / "b"), "--data-dir", data)
    assert again.returncode == 0, again.stderr
    assert sorted(url for url, state in rows(tmp_path / "data") if state == "done") == sorted(first + second)


@pytest.mark.timeout(120)
def test_gets_started_together_on_a_fresh_folder_either_run_or_refuse_cleanly(
    http_server: TestServer, tmp_path: Path
) -> None:
    url = http_server.add("/one.bin", payload("one", 50_000))
    apps = [start_get(url, "-d", str(tmp_path / f"out{i}"), "--data-dir", str(tmp_path / "data"))
            for i in range(8)]
    errors = [app.communicate(timeout=60)[1] for app in apps]
    results = list(zip((app.returncode for app in apps), errors, strict=True))
    assert {code for code, _ in results} <= {0, 3}
    assert any(code == 0 for code, _ in results)
    for code, err in results:
        assert code == 0 or "is in use by another Parafetch" in err, err
        assert "database is locked" not in err and "Traceback" not in err


# ---- SIGTERM, SIGKILL of the parent, Ctrl-C at start-up -----------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", MODES)
def test_sigterm_saves_state_sums_up_exits_143_and_leaves_no_process(
    mode: str, http_server: TestServer, tmp_path: Path
) -> None:
    urls = [http_server.add(f"/t{i}.bin", payload(f"t{i}", 1 << 20), rate=128 * 1024) for i in range(3)]
    data = tmp_path / "data"
    app = start_get(*urls, "-d", str(tmp_path / "out"), "-m", mode, "-w", "3", "--data-dir", str(data),
                    "--json")
    wait_until(lambda: any(p.stat().st_size for p in (tmp_path / "out").glob("*.part")), 30, "a download")
    processes = family(app.pid)
    app.send_signal(signal.SIGTERM)
    out, err = app.communicate(timeout=30)
    assert app.returncode == 143, err
    assert "interrupted" in err and "Traceback" not in err
    assert "done, 0 failed" in err  # the summary
    assert {j["state"] for j in json.loads(out)["jobs"]} == {"interrupted"}
    _, alive = psutil.wait_procs(processes, timeout=2)
    assert alive == []
    assert {state for _, state in rows(data)} == {"queued"}  # none left "running"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["processes", "process-pool"])
def test_worker_processes_end_within_a_second_of_their_parent_being_killed(
    mode: str, http_server: TestServer, tmp_path: Path
) -> None:
    urls = [http_server.add(f"/w{i}.bin", payload(f"w{i}", 4 << 20), rate=256 * 1024) for i in range(3)]
    out = tmp_path / "out"
    app = start_get(*urls, "-d", str(out), "-m", mode, "-w", "3", "--data-dir", str(tmp_path / "data"))
    wait_until(lambda: len([p for p in out.glob("*.part") if p.stat().st_size]) == 3, 30, "three downloads")
    processes = family(app.pid)
    assert len(processes) >= 5  # the app, the forkserver, the resource tracker and three workers
    app.kill()  # the parent alone: its children are not signalled
    app.communicate(timeout=10)
    gone_at = time.monotonic()
    _, alive = psutil.wait_procs(processes, timeout=2)
    assert alive == [], f"still alive {time.monotonic() - gone_at:.1f} s later: {alive}"
    sizes = {p: p.stat().st_size for p in out.glob("*.part")}
    time.sleep(0.5)  # nothing left to write: the sizes stay as they are
    assert {p: p.stat().st_size for p in out.glob("*.part")} == sizes


@pytest.mark.timeout(60)
def test_ctrl_c_in_the_first_moments_gives_a_line_not_a_traceback(tmp_path: Path) -> None:
    for delay in (0.0, 0.05, 0.1, 0.2, 0.35, 0.5):
        app = start_get("http://127.0.0.1:9/x", "-d", str(tmp_path / "out"),
                        "--data-dir", str(tmp_path / "data"), "--retry-base", "30")
        # From main.py's first line on (before it, the interpreter itself is starting; 20-80 ms here)
        wait_until(functools.partial(catches_sigterm, app.pid), 20, "main.py's first line")
        time.sleep(delay)
        app.send_signal(signal.SIGINT)
        _, err = app.communicate(timeout=20)
        assert app.returncode == 130, (delay, err)
        assert "interrupted" in err and "Traceback" not in err, (delay, err)
