"""The headless runner: `main.py get` fetches URLs in a chosen mode and reports per job and in total."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

from engine.credentials import redact
from engine.events import RetryPolicy
from engine.interrupts import interrupted_status, no_more_interrupts
from engine.jobs import Job, JobState
from engine.monitor import SystemMonitor
from engine.pipeline import CHOICES, PIPELINE, download_mode, stage_for
from engine.session import Session
from engine.sources import ParsedInput, Rejected, read_sources
from engine.stage import StageResult
from engine.store import DATA_DIR_ENV, JobStore, StoreBusy, StoreError, default_data_dir
from engine.terminal import LiveProgress, format_duration
from engine.transfer import human_bytes
from engine.workers import stop_process_helpers

TICK = 0.2
_Number = TypeVar("_Number", int, float)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_ENGINE = 3  # Parafetch itself could not go on: its data folder is in use, or its queue cannot be written


def positive_int(text: str) -> int:
    return _at_least(1, int(text))


def non_negative_int(text: str) -> int:
    return _at_least(0, int(text))


def non_negative_float(text: str) -> float:
    return _at_least(0, float(text))


def _at_least(minimum: int, value: _Number) -> _Number:
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {minimum} or more")
    return value


def add_get_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `get`."""
    parser.add_argument("urls", nargs="*", metavar="URL", help="URLs to fetch")
    parser.add_argument(
        "-i",
        "--input",
        action="append",
        default=[],
        metavar="FILE",
        help="a list file of URLs ('-' reads standard input); may be repeated",
    )
    parser.add_argument("-d", "--dest", default=".", metavar="DIR", help="destination folder (default: .)")
    parser.add_argument(
        "-m", "--mode", default="thread-pool", choices=CHOICES,
        help=f"how to run the list ({PIPELINE}: a thread pool, then SHA-256 checks and thumbnails in "
        "processes)",
    )
    parser.add_argument(
        "-w",
        "--workers",
        type=positive_int,
        metavar="N",
        help="pool size (default: 8 threads, or one process per CPU)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout at the end")
    parser.add_argument("--priority", type=int, default=0, metavar="P", help="higher runs first (default 0)")
    add_retry_arguments(parser)
    add_data_dir_argument(parser)


def add_retry_arguments(parser: argparse.ArgumentParser) -> None:
    """How patiently retryable failures are tried again."""
    default = RetryPolicy()
    parser.add_argument(
        "--attempts",
        type=positive_int,
        default=default.attempts,
        metavar="N",
        help=f"tries per file for retryable errors (default {default.attempts})",
    )
    parser.add_argument(
        "--retry-base",
        type=non_negative_float,
        default=default.base_delay,
        metavar="S",
        help=f"first backoff delay in seconds, doubled each time (default {default.base_delay:g})",
    )
    parser.add_argument(
        "--retry-cap",
        type=non_negative_float,
        default=default.max_delay,
        metavar="S",
        help=f"longest backoff, also caps Retry-After (default {default.max_delay:g})",
    )


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help=f"where the job queue is kept (default: ${DATA_DIR_ENV} or {default_data_dir()})",
    )


def open_store(data_dir: str | None) -> JobStore:
    """The job store, or SystemExit(2) with a message when it cannot be opened."""
    try:
        return JobStore(data_dir)
    except StoreBusy as exc:
        print(f"parafetch: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_ENGINE) from exc
    except (OSError, sqlite3.Error, StoreError) as exc:
        print(
            f"parafetch: cannot open the job store in {data_dir or default_data_dir()}: {exc}",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_USAGE) from exc


@dataclass
class Peaks:
    """The most threads and processes the app used at any sample."""

    threads: int = 0
    processes: int = 0

    def update(self, monitor: SystemMonitor) -> None:
        sample = monitor.sample()
        self.threads = max(self.threads, sample.threads)
        self.processes = max(self.processes, sample.processes)


def report_input(parsed: ParsedInput, out: TextIO) -> None:
    for rejected in parsed.rejected:
        print(f"parafetch: skipped {rejected}", file=out)
    for duplicate in parsed.duplicates:  # URLs come with any password masked
        print(f"parafetch: skipped duplicate {duplicate.url} (line {duplicate.line})", file=out)


def finished_line(job: Job) -> str:
    if job.state is JobState.DONE:
        return f"done      {job.path}  {human_bytes(job.bytes_done)}"
    return f"{job.state.value:<9} {job.url}  {redact(job.error or '')}".rstrip()


def job_record(job: Job) -> dict[str, Any]:
    elapsed = None
    if job.started_at is not None and job.finished_at is not None:
        elapsed = round(job.finished_at - job.started_at, 3)
    state = job.state.value if job.state.finished else "interrupted"  # unfinished: the next run resumes it
    return {
        "url": job.url,
        "path": job.path,
        "state": state,
        "bytes": job.bytes_done,
        "sha256": job.sha256,
        "error": redact(job.error) if job.error else None,
        "attempts": job.attempts,
        "elapsed_s": elapsed,
    }


def rejected_record(rejected: Rejected) -> dict[str, Any]:
    return {
        "url": rejected.text,
        "path": None,
        "state": "failed",
        "bytes": 0,
        "sha256": None,
        "error": f"line {rejected.line}: {rejected.reason}",
        "attempts": 0,
        "elapsed_s": None,
    }


def run_get(args: argparse.Namespace) -> int:
    """Fetch everything asked for; returns the exit status."""
    parsed = read_sources(args.urls, args.input)
    report_input(parsed, sys.stderr)
    if not parsed.entries and not parsed.rejected:
        print("parafetch: no URLs given (pass URLs, or -i FILE, or -i - for standard input)", file=sys.stderr)
        return EXIT_USAGE
    lines_out = sys.stderr if args.json else sys.stdout
    live = LiveProgress(sys.stderr) if sys.stderr.isatty() and not args.json else None
    started = time.monotonic()
    status: int | None = None
    store = open_store(args.data_dir)
    try:
        retry = RetryPolicy(args.attempts, args.retry_base, args.retry_cap)
        stage = stage_for(args.mode)
        session = Session(download_mode(args.mode), args.workers, retry, store=store, stage=stage)
    except (sqlite3.Error, OSError) as exc:
        store.close()
        print(f"parafetch: cannot use the job queue in {store.data_dir}: {exc}", file=sys.stderr)
        return EXIT_ENGINE
    except BaseException:
        store.close()
        raise
    monitor = SystemMonitor(lambda: session.stats().worker_pids)
    peaks = Peaks()
    try:
        try:
            session.add(parsed.entries, args.dest, args.priority)
            session.start()
            while not session.wait(TICK):
                peaks.update(monitor)
                _show(session, live, lines_out, started)
        except KeyboardInterrupt as stop:
            status = interrupted_status(stop)
            print(
                "\nparafetch: interrupted; partial files are kept: run the same command again to resume",
                file=sys.stderr,
            )
        with no_more_interrupts():
            session.shutdown()
            peaks.update(monitor)
            _show(session, live, lines_out, started)
    finally:
        with no_more_interrupts():
            session.shutdown()
            store.close()
            stop_process_helpers()
    if live:
        live.clear()
    elapsed = time.monotonic() - started
    jobs = session.jobs()
    _summary(jobs, parsed, elapsed, peaks, args.mode)
    checked = session.stage_results()
    if stage is not None:
        _stage_summary(checked)
    if session.broken:
        print(f"parafetch: stopped: {session.broken}", file=sys.stderr)
    if args.json:
        records = [job_record(j) for j in jobs] + [rejected_record(r) for r in parsed.rejected]
        print(
            json.dumps(
                {
                    "mode": args.mode,
                    "workers": session.stats().workers,
                    "elapsed_s": round(elapsed, 3),
                    "peak_threads": peaks.threads,
                    "peak_processes": peaks.processes,
                    "jobs": records,
                    **({"checked": [stage_record(r) for r in checked]} if stage is not None else {}),
                }
            )
        )
    if status is not None:
        return status
    if session.broken:
        return EXIT_ENGINE
    all_done = all(j.state is JobState.DONE for j in jobs) and not parsed.rejected
    all_verified = all(r.verified for r in checked)
    return EXIT_OK if all_done and all_verified else EXIT_FAILED


def _show(session: Session, live: LiveProgress | None, lines_out: TextIO, started: float) -> None:
    changed = session.changes().jobs
    if live:
        live.clear()
    for job in changed:
        if job.state.finished:
            print(finished_line(job), file=lines_out, flush=True)
    if live:
        live.draw(session.jobs(), session.stats(), time.monotonic() - started)


def stage_record(result: StageResult) -> dict[str, object]:
    """What the pipeline's stage found for one file, for --json."""
    return {"path": result.path, "sha256": result.sha256, "verified": result.verified,
            "thumbnail": result.thumbnail is not None, "error": result.error}


def _stage_summary(results: Sequence[StageResult]) -> None:
    for result in results:
        if not result.verified:
            print(f"parafetch: check failed: {result.path}: {result.error}", file=sys.stderr)
    verified = sum(1 for r in results if r.verified)
    pictures = sum(1 for r in results if r.thumbnail is not None)
    cpu = sum(r.cpu_s for r in results)
    print(f"parafetch: pipeline: {verified} of {len(results)} files verified (SHA-256), {pictures} "
          f"thumbnails, {cpu:.2f} s of CPU in the stage", file=sys.stderr)


def _summary(jobs: Sequence[Job], parsed: ParsedInput, elapsed: float, peaks: Peaks, mode: str) -> None:
    done = [j for j in jobs if j.state is JobState.DONE]
    failed = sum(1 for j in jobs if j.state is JobState.FAILED) + len(parsed.rejected)
    size = sum(j.bytes_done for j in done)
    rate = human_bytes(size / elapsed) if elapsed > 0 else "–"
    print(
        f"parafetch: {len(done)} done, {failed} failed, {human_bytes(size)} in {format_duration(elapsed)} "
        f"({elapsed:.2f} s, {rate}/s) with {mode}; peak {peaks.threads} threads, "
        f"{peaks.processes} process{'es' if peaks.processes != 1 else ''}",
        file=sys.stderr,
    )
