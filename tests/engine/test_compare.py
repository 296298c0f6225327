"""Comparing the modes: one list through each mode, measured; repeats, cancel, CPU accounting, and the CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.compare import COLUMNS, ModeRun, cpu_seconds, run_comparison
from engine.compare_cli import CSV_COLUMNS
from engine.modes import MODES
from engine.monitor import MonitorSample
from engine.recommend import recommend
from engine.sources import UrlEntry, parse_text
from engine.stage import process_file
from engine.workers import process_context
from tests.support.http_server import TestServer, payload

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
THREAD_MODES = [m for m in MODES if not MODES[m].uses_processes]


def entries(urls: list[str]) -> list[UrlEntry]:
    return parse_text("\n".join(urls)).entries


def latency_list(server: TestServer, files: int, latency: float, size: int = 16 * 1024) -> list[str]:
    return [server.add(f"/l{i:02d}.bin", payload(f"l{i}", size), latency=latency) for i in range(files)]


def test_every_mode_runs_the_whole_list_measured_and_a_recommendation_names_one_of_them(
    http_server: TestServer, tmp_path: Path
) -> None:
    # Which mode wins is a wall-time ranking: benchmarks/compare_lists.py checks it on a quiet machine.
    urls = latency_list(http_server, 30, 0.2)
    finished: list[ModeRun] = []
    report = run_comparison(entries(urls), None, 8, 1, tmp_path, on_result=finished.append)
    assert [r.mode for r in report.runs] == list(MODES) and list(report.runs) == finished
    assert report.files == 30 and report.latency_s is not None and report.latency_s >= 0.2
    runs = {r.mode: r for r in report.runs}
    for run in report.runs:
        assert run.failed == 0 and run.files == 30 and run.bytes == 30 * 16 * 1024, run
        assert run.peak_rss_mb > 0 and run.cpu_s > 0 and run.mean_threads > 0
        assert run.elapsed_min == run.elapsed_s == run.elapsed_max > 0
    assert runs["sequential"].workers == 1 and runs["thread-pool"].workers == 8
    assert runs["threads"].workers == runs["processes"].workers == 30
    for mode in THREAD_MODES:
        assert runs[mode].peak_processes == 1, runs[mode]
    assert runs["processes"].peak_processes > 2 and runs["process-pool"].peak_processes > 2
    advice = recommend(report)
    assert advice.mode in MODES and advice.reason, advice
    assert list(tmp_path.iterdir()) == [], "scratch folders are deleted after measuring"


def test_repeats_report_the_median_and_the_spread_and_keep_leaves_the_files(
    http_server: TestServer, tmp_path: Path
) -> None:
    urls = latency_list(http_server, 6, 0.05, size=2000)
    report = run_comparison(entries(urls), ["thread-pool"], 3, 3, tmp_path, keep=True, probe=False)
    (run,) = report.runs
    assert run.repeats == 3 and run.workers == 3
    assert run.elapsed_min <= run.elapsed_s <= run.elapsed_max
    assert report.latency_s is None and report.scratch_dir is not None
    kept = Path(report.scratch_dir)
    assert sorted(p.name for p in kept.iterdir()) == ["thread-pool-1", "thread-pool-2", "thread-pool-3"]
    for folder in kept.iterdir():
        assert sorted(p.name for p in folder.iterdir()) == [f"l{i:02d}.bin" for i in range(6)]


def test_cancel_stops_the_current_run_cleanly(http_server: TestServer, tmp_path: Path) -> None:
    # Four 2 MB files at 256 KB/s: about 8 s each, far longer than the test waits.
    urls = [http_server.add(f"/s{i}.bin", payload(f"s{i}", 2_000_000), rate=256_000) for i in range(4)]
    cancel = threading.Event()

    def watch(mode: str, sample: MonitorSample) -> None:
        if sample.processes >= 3:  # the app, the forkserver and at least one worker process
            cancel.set()

    finished: list[ModeRun] = []
    modes, listed = ["processes", "thread-pool"], entries(urls)
    report = run_comparison(listed, modes, 2, 1, tmp_path, finished.append, cancel=cancel, on_sample=watch)
    assert report.cancelled and report.runs == () and finished == []
    assert list(tmp_path.iterdir()) == []


def test_cpu_seconds_include_a_worker_process_that_has_already_ended(tmp_path: Path) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"x")
    context: Any = process_context()
    warm_up = context.Process(target=process_file, args=(1, str(data), None, 0))  # starts the forkserver
    warm_up.start()
    warm_up.join(30)
    before = cpu_seconds()
    worker = context.Process(target=process_file, args=(1, str(data), None, 1_000_000))
    worker.start()
    worker.join(30)
    assert worker.exitcode == 0 and not worker.is_alive()
    assert cpu_seconds() - before >= 0.2  # ~0.4 s of hashing, in a process the forkserver reaped


def compare_cli(*args: str) -> subprocess.CompletedProcess[str]:
    script = (
        "import argparse, sys\n"
        "from engine.compare_cli import add_compare_arguments, run_compare\n"
        "parser = argparse.ArgumentParser(prog='compare')\n"
        "add_compare_arguments(parser)\n"
        "sys.exit(run_compare(parser.parse_args(sys.argv[1:])))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True, timeout=50
    )


def test_cli_prints_only_the_json_on_stdout_and_one_csv_row_per_mode(
    http_server: TestServer, tmp_path: Path
) -> None:
    urls = latency_list(http_server, 6, 0.05, size=4000)
    table = tmp_path / "runs.csv"
    result = compare_cli(
        *urls, "--modes", "sequential,thread-pool", "--pipeline", "-w", "3", "--json", "--csv", str(table),
        "--scratch", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"runs", "recommendation"}
    assert [r["mode"] for r in report["runs"]] == ["sequential", "thread-pool", "pipeline"]
    for run in report["runs"]:
        assert tuple(run) == COLUMNS and run["failed"] == 0
    assert set(report["recommendation"]) == {"mode", "workers", "reason"}
    assert report["recommendation"]["reason"]
    assert "Thread pool" in result.stderr and "recommendation:" in result.stderr  # the table went to stderr
    with table.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 4
    assert [row[0] for row in rows[1:]] == ["sequential", "thread-pool", "pipeline"]
    assert all(len(row) == len(CSV_COLUMNS) and all(cell != "" for cell in row) for row in rows[1:])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.csv"]


def test_cli_refuses_bad_usage_with_status_2(tmp_path: Path) -> None:
    nothing = compare_cli()
    assert nothing.returncode == 2 and "no URLs to compare" in nothing.stderr
    refused = compare_cli("ftp://example.invalid/x")
    assert refused.returncode == 2 and "unsupported scheme" in refused.stderr
    unknown = compare_cli("http://127.0.0.1:9/x", "--modes", "sequential,warp-drive")
    assert unknown.returncode == 2 and "unknown mode 'warp-drive'" in unknown.stderr
    unwritable = compare_cli("http://127.0.0.1:9/x", "--csv", str(tmp_path / "missing" / "runs.csv"))
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr
    assert unwritable.stdout == ""
