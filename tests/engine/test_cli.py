"""`main.py get` as a person or a script runs it: output, JSON, exit status, Ctrl-C."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.support.http_server import TestServer, payload
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def get(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py", "get", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=50,
    )


@pytest.mark.parametrize("mode", ["sequential", "threads", "thread-pool", "processes", "process-pool"])
def test_json_reports_every_job_and_nothing_else_on_stdout(
    mode: str, http_server: TestServer, tmp_path: Path
) -> None:
    data = {f"/j{i}.bin": payload(f"j{i}", 30_000 + i) for i in range(5)}
    urls = [http_server.add(p, d) for p, d in data.items()]
    result = get(*urls, "-d", str(tmp_path), "-m", mode, "-w", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"mode", "workers", "elapsed_s", "peak_threads", "peak_processes", "jobs"}
    assert report["mode"] == mode and report["peak_threads"] >= 2 and report["peak_processes"] >= 1
    if mode in ("processes", "process-pool"):
        assert report["peak_processes"] >= 2
    for job, (path, body) in zip(report["jobs"], data.items(), strict=True):
        assert set(job) == {"url", "path", "state", "bytes", "sha256", "error", "attempts", "elapsed_s"}
        assert job["state"] == "done" and job["attempts"] == 1 and job["error"] is None
        assert job["bytes"] == len(body) and job["sha256"] == hashlib.sha256(body).hexdigest()
        assert Path(job["path"]) == tmp_path / path.lstrip("/")
        assert Path(job["path"]).read_bytes() == body
    assert "5 done, 0 failed" in result.stderr


def test_plain_output_is_one_line_per_finished_job_and_a_summary(
    http_server: TestServer, tmp_path: Path
) -> None:
    ok = http_server.add("/ok.txt", b"fine")
    missing = http_server.add("/missing.txt", b"", status=404)
    result = get(ok, missing, "-d", str(tmp_path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert any(line.startswith("done") and line.endswith("ok.txt  4 B") for line in lines)
    assert any(line.startswith("failed") and "HTTP 404 Not Found" in line for line in lines)
    assert "1 done, 1 failed" in result.stderr and "peak" in result.stderr


def test_a_list_from_stdin_with_bad_lines_runs_the_rest_and_reports_each(
    http_server: TestServer, tmp_path: Path
) -> None:
    good = [http_server.add(f"/s{i}.bin", payload(f"s{i}", 1000)) for i in range(3)]
    text = f"# list\n{good[0]}\nftp://h/x\n{good[1]}, {good[1]}\njavascript:alert(1)\n{good[2]}\n"
    result = get("-i", "-", "-d", str(tmp_path), "--json", stdin=text)
    assert result.returncode == 1
    assert "stdin:3: 'ftp://h/x': unsupported scheme 'ftp:'" in result.stderr
    assert "stdin:5: 'javascript:alert(1)': unsupported scheme 'javascript:'" in result.stderr
    assert f"skipped duplicate {good[1]} (line 4)" in result.stderr
    jobs = json.loads(result.stdout)["jobs"]
    assert [j["state"] for j in jobs] == ["done", "done", "done", "failed", "failed"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s0.bin", "s1.bin", "s2.bin"]


def test_a_list_file_and_sha256_entries(http_server: TestServer, tmp_path: Path) -> None:
    body = payload("sum", 5000)
    right = http_server.add("/right.bin", body)
    wrong = http_server.add("/wrong.bin", body)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{right} sha256={hashlib.sha256(body).hexdigest()}\n{wrong} sha256={'0' * 64}\n")
    result = get("-i", str(listing), "-d", str(tmp_path / "out"), "--json")
    assert result.returncode == 1
    jobs = json.loads(result.stdout)["jobs"]
    assert jobs[0]["state"] == "done"
    assert jobs[1]["state"] == "failed" and "checksum mismatch" in jobs[1]["error"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["right.bin"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no URLs given"),
        (
            (
                "-m",
                "warp",
            ),
            "invalid choice: 'warp'",
        ),
        (("-w", "0", "http://h/x"), "must be 1"),
    ],
)
def test_bad_usage_exits_2_with_a_message(args: tuple[str, ...], message: str) -> None:
    result = get(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_help_lists_the_get_command() -> None:
    result = subprocess.run(
        [sys.executable, "main.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and "get" in result.stdout


@pytest.mark.parametrize("mode", ["thread-pool", "processes", "process-pool"])
def test_ctrl_c_stops_everything_leaves_no_process_and_a_rerun_resumes(
    mode: str, http_server: TestServer, tmp_path: Path
) -> None:
    urls = [http_server.add(f"/k{i}.bin", payload(f"k{i}", 1 << 20), rate=128 * 1024) for i in range(4)]
    process = subprocess.Popen(
        [sys.executable, "main.py", "get", *urls, "-d", str(tmp_path), "-m", mode, "-w", "2", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    parent = psutil.Process(process.pid)
    wait_until(
        lambda: any(p.suffix == ".part" and p.stat().st_size for p in tmp_path.iterdir()),
        30,
        "a download to be under way",
    )
    family = [parent, *parent.children(recursive=True)]
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert {j["state"] for j in json.loads(out)["jobs"]} == {"interrupted"}
    _, alive = psutil.wait_procs(family, timeout=10)
    assert alive == []
    assert all(p.suffix == ".part" for p in tmp_path.iterdir())
    kept = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert any(kept.values())
    for i in range(4):
        http_server.add(f"/k{i}.bin", payload(f"k{i}", 1 << 20))  # full speed for the second run
    again = get(*urls, "-d", str(tmp_path), "-m", mode, "-w", "2", "--json")
    assert again.returncode == 0, again.stderr
    for i in range(4):
        assert (tmp_path / f"k{i}.bin").read_bytes() == payload(f"k{i}", 1 << 20)
        if kept.get(f"k{i}.bin.part"):
            ranges = [r.header("Range") for r in http_server.requests_for(f"/k{i}.bin")]
            assert ranges[-1] == f"bytes={kept[f'k{i}.bin.part']}-"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"k{i}.bin" for i in range(4)]


def test_the_pipeline_checks_every_file_and_reports_what_it_found(
    http_server: TestServer, tmp_path: Path
) -> None:
    data = {f"/k{i}.bin": payload(f"k{i}", 20_000 + i) for i in range(3)}
    urls = [http_server.add(p, d) for p, d in data.items()]
    result = get(*urls, "-d", str(tmp_path), "-m", "pipeline", "-w", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mode"] == "pipeline" and report["peak_processes"] >= 2  # the stage's processes
    checked = {Path(c["path"]).name: c for c in report["checked"]}
    assert sorted(checked) == ["k0.bin", "k1.bin", "k2.bin"]
    for path, body in data.items():
        found = checked[path.lstrip("/")]
        assert found["verified"] and not found["error"]
        assert found["sha256"] == hashlib.sha256(body).hexdigest()
    assert "pipeline: 3 of 3 files verified (SHA-256), 0 thumbnails" in result.stderr
