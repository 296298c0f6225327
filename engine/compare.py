"""Comparing the modes: one URL list run once per mode, each run measured (time, workers, memory, CPU)."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import psutil

from engine.events import RetryPolicy
from engine.jobs import JobState
from engine.modes import MODES
from engine.monitor import MonitorSample, SystemMonitor
from engine.pipeline import CHOICES, choice_label, download_mode, stage_for
from engine.recommend import median_latency, probe_urls
from engine.session import Session
from engine.sources import UrlEntry
from engine.workers import stop_process_helpers

SAMPLE_EVERY = 0.15  # seconds between monitor samples during a run
SAMPLE_TRIES = 3
CANCEL_POLL = 0.1  # how often the measuring thread looks at the cancel flag (the run's end is seen at once)
MB = 1_000_000  # MB/s and peak_rss_mb are decimal megabytes
COLUMNS = (
    "mode", "workers", "elapsed_s", "files_per_s", "mb_per_s", "peak_threads", "mean_threads",
    "peak_processes", "peak_rss_mb", "cpu_s", "failed",
)  # fmt: skip
ALL_MODES = CHOICES
_EMPTY = MonitorSample(0.0, 0, 0, 0.0, 0, ())


@dataclass(frozen=True)
class ModeRun:
    """One mode's measurement (with repeats: the median of each number, and the spread of elapsed)."""

    mode: str
    workers: int
    elapsed_s: float
    files_per_s: float
    mb_per_s: float
    peak_threads: int
    mean_threads: float
    peak_processes: int
    peak_rss_mb: float  # the app plus all its children; pages shared between processes count in each
    cpu_s: float  # user + system CPU of the app and its children during the run (see cpu_seconds)
    failed: int
    files: int = 0  # files downloaded (and, in the pipeline, processed) successfully
    bytes: int = 0
    file_s: float = 0.0  # median time of one file, from being handed to a worker to finished
    base_rss_mb: float = 0.0  # the app plus children just before the run started
    stage_cpu_s: float | None = None  # pipeline only: CPU the post-processing stage used, summed over files
    elapsed_min: float = 0.0
    elapsed_max: float = 0.0
    repeats: int = 1

    @property
    def label(self) -> str:
        return choice_label(self.mode)

    def record(self) -> dict[str, Any]:
        """The row as `--json` and CSV show it: exactly COLUMNS, rounded."""
        row = {name: getattr(self, name) for name in COLUMNS}
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}


@dataclass(frozen=True)
class ComparisonReport:
    """Every measured mode in the order run, the list's size, and the server's measured response time."""

    runs: tuple[ModeRun, ...]
    files: int
    latency_s: float | None  # median time for the server to answer (HEAD or a 1-byte GET) over a sample
    cancelled: bool = False
    scratch_dir: str | None = None  # where the downloads were left, with keep=True

    def fastest(self) -> ModeRun | None:
        return min(self.runs, key=lambda r: r.elapsed_s, default=None)


def cpu_seconds() -> float:
    """User + system CPU of this process, of the children it reaped, and of every live descendant.

    psutil's children_user/children_system count only children that were waited for (with whatever *they*
    reaped); a live descendant counts its own time plus what it reaped (the forkserver reaps the worker
    processes it forked). The total only grows as processes end and are reaped, so the difference between
    two calls is the CPU spent in between, except by a process that ended unreaped or was re-parented away.
    """
    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


class _Sampler:
    """Samples the app's process tree on a background thread, keeping its own CPU time to subtract."""

    def __init__(
        self, pids: Callable[[], frozenset[int]], on_sample: Callable[[MonitorSample], None] | None
    ) -> None:
        self._monitor = SystemMonitor(pids)
        self._on_sample = on_sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="compare-monitor", daemon=True)
        self.samples: list[MonitorSample] = []
        self.own_cpu = 0.0

    def sample(self) -> MonitorSample | None:
        """One sample of the process tree, or None when processes kept ending under it."""
        for _ in range(SAMPLE_TRIES):
            try:
                sample = self._monitor.sample()
            except psutil.Error:  # a child ended between being listed and being read: look again
                continue
            self.samples.append(sample)
            if self._on_sample is not None:
                self._on_sample(sample)
            return sample
        return None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def _loop(self) -> None:
        began = time.thread_time()
        while not self._stop.wait(SAMPLE_EVERY):
            self.sample()
            self.own_cpu = time.thread_time() - began


def _open(mode: str, workers: int | None, retry: RetryPolicy, cpu_rounds: int) -> Session:
    pool = None if mode == "sequential" else workers
    return Session(download_mode(mode), pool, retry, stage=stage_for(mode, cpu_rounds))


def run_once(
    mode: str,
    entries: Sequence[UrlEntry],
    dest: str,
    workers: int | None = None,
    retry: RetryPolicy | None = None,
    cancel: threading.Event | None = None,
    on_sample: Callable[[MonitorSample], None] | None = None,
    cpu_rounds: int = 0,
) -> ModeRun | None:
    """Run the list once in one mode into `dest` and measure it; None when cancelled before the end."""
    stop_process_helpers()  # each run starts without a forkserver left over from the one before
    runner = _open(mode, workers, retry or RetryPolicy(), cpu_rounds)
    sampler = _Sampler(lambda: runner.stats().worker_pids, on_sample)
    try:
        runner.add(entries, dest)
        base = sampler.sample()
        sampler.samples.clear()
        cpu_before = cpu_seconds()
        started = time.monotonic()
        runner.start()
        sampler.start()
        while not runner.wait(CANCEL_POLL):
            if cancel is not None and cancel.is_set():
                runner.cancel()
                runner.wait(5.0)  # let the cancel land before the workers are ended
                return None
        elapsed = time.monotonic() - started
        sampler.stop()
        cpu = max(0.0, cpu_seconds() - cpu_before - sampler.own_cpu)
        during = sampler.samples[:]  # taken on the sampler's thread while the run went on
        end = sampler.sample()  # the end of the run, its workers still there
        samples = [*during, *([end] if end else [])] or [base or _EMPTY]
        during = during or samples  # a run shorter than SAMPLE_EVERY: its end stands for it
        stats = runner.stats()
        jobs = runner.jobs()
    finally:
        sampler.stop()
        runner.shutdown()
    done = [j for j in jobs if j.state is JobState.DONE]
    failed = len(jobs) - len(done)
    stage_failures = stats.stage.failures if stats.stage is not None else 0
    failed += stage_failures
    size = sum(j.bytes_done for j in done)
    durations = [j.finished_at - j.started_at for j in done if j.finished_at and j.started_at]
    one_shot = mode in MODES and MODES[mode].one_shot
    return ModeRun(
        mode=mode,
        workers=len(entries) if one_shot else stats.workers,
        elapsed_s=elapsed,
        files_per_s=len(done) / elapsed if elapsed > 0 else 0.0,
        mb_per_s=size / MB / elapsed if elapsed > 0 else 0.0,
        peak_threads=max(s.threads for s in samples),
        mean_threads=statistics.fmean(s.threads for s in during),
        peak_processes=max(s.processes for s in samples),
        peak_rss_mb=max(s.rss for s in samples) / MB,
        cpu_s=cpu,
        failed=failed,
        files=len(done) - stage_failures,
        bytes=size,
        file_s=statistics.median(durations) if durations else 0.0,
        base_rss_mb=base.rss / MB if base else 0.0,
        stage_cpu_s=stats.stage.cpu_s if stats.stage is not None else None,
        elapsed_min=elapsed,
        elapsed_max=elapsed,
    )


def combine(runs: Sequence[ModeRun]) -> ModeRun:
    """Repeats of one mode folded into one row: the median of every number, min and max of elapsed."""
    values: dict[str, Any] = {}
    for field in fields(ModeRun):
        column = [getattr(r, field.name) for r in runs]
        if field.name == "mode" or column[0] is None:
            values[field.name] = column[0]
        elif isinstance(column[0], int):
            values[field.name] = round(statistics.median(column))
        else:
            values[field.name] = statistics.median(column)
    elapsed = [r.elapsed_s for r in runs]
    values.update(elapsed_min=min(elapsed), elapsed_max=max(elapsed), repeats=len(runs))
    return ModeRun(**values)


def _tagged(
    on_sample: Callable[[str, MonitorSample], None] | None, mode: str
) -> Callable[[MonitorSample], None] | None:
    if on_sample is None:
        return None
    return lambda sample: on_sample(mode, sample)


def run_comparison(
    entries: Sequence[UrlEntry],
    modes: Sequence[str] | None = None,
    workers: int | None = None,
    repeat: int = 1,
    scratch_root: str | os.PathLike[str] | None = None,
    on_result: Callable[[ModeRun], None] | None = None,
    *,
    cancel: threading.Event | None = None,
    on_sample: Callable[[str, MonitorSample], None] | None = None,
    keep: bool = False,
    retry: RetryPolicy | None = None,
    cpu_rounds: int = 0,
    probe: bool = True,
) -> ComparisonReport:
    """Run `entries` once (or `repeat` times) per mode, one mode at a time, each into its own scratch folder.

    Modes default to all five; add "pipeline" to measure the pipeline option (`cpu_rounds` makes its stage
    CPU-heavy). `workers` sizes the pools and the pipeline's download threads; sequential ignores it, and the
    one-per-URL modes use a worker per file. `on_result(run)` is called as each mode finishes; `on_sample`
    gets (mode, sample) about every SAMPLE_EVERY seconds. Setting `cancel` stops the current run (cancelled
    jobs, workers ended) and returns what finished before it. Scratch folders go unless `keep`. Each run
    first stops multiprocessing's helper processes, so do not compare while another session uses processes.
    Call it from a background thread, never from a UI thread: it blocks until the last mode is done, and
    the callbacks run on that thread (a window forwards them to its own thread).
    """
    modes = list(modes or MODES)
    unknown = [m for m in modes if m not in ALL_MODES]
    if unknown:
        raise ValueError(f"unknown mode {unknown[0]!r}; choose from {', '.join(ALL_MODES)}")
    entries = list(entries)
    latency = median_latency(probe_urls([e.url for e in entries])) if probe and entries else None
    root = tempfile.mkdtemp(prefix="parafetch-compare-", dir=scratch_root)
    results: list[ModeRun] = []
    cancelled = False
    try:
        for mode in modes:
            repeats: list[ModeRun] = []
            for index in range(max(1, repeat)):
                dest = os.path.join(root, f"{mode}-{index + 1}")
                os.makedirs(dest)
                run = run_once(
                    mode, entries, dest, workers, retry, cancel, _tagged(on_sample, mode), cpu_rounds
                )
                if not keep:
                    shutil.rmtree(dest, ignore_errors=True)
                if run is None:
                    cancelled = True
                    break
                repeats.append(run)
            if cancelled:
                break
            results.append(combine(repeats))
            if on_result is not None:
                on_result(results[-1])
    finally:
        stop_process_helpers()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return ComparisonReport(tuple(results), len(entries), latency, cancelled, root if keep else None)
