"""Which mode to use: a recommendation from a comparison's measurements, and a first guess from a probe."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from engine.http_client import USER_AGENT
from engine.modes import MODES
from engine.pipeline import PIPELINE, PIPELINE_LABEL
from engine.transfer import human_bytes

if TYPE_CHECKING:
    from engine.compare import ComparisonReport, ModeRun

NEAR = 0.10  # a mode this much slower than the fastest still wins when it is cheaper
MEMORY_MARGIN = 5.0  # MB: smaller differences in memory growth are noise, not a reason to choose
STAGE_HEAVY_S = 0.005  # CPU seconds per file from which post-processing belongs in processes
SMALL_FILE = 1 << 20
LARGE_FILE = 16 << 20
DEFAULT_THREADS = 8


@dataclass(frozen=True)
class Recommendation:
    """A mode and worker count, and why, in one or two plain sentences with the numbers behind it."""

    mode: str
    workers: int
    reason: str
    stage: str | None = None  # where post-processing belongs, "processes" or "threads", when it was measured

    def record(self) -> dict[str, Any]:
        return {"mode": self.mode, "workers": self.workers, "reason": self.reason}


@dataclass(frozen=True)
class UrlProbe:
    """What quick requests told about one URL: how long the server took to answer, size, Range support."""

    url: str
    latency_s: float | None
    size: int | None
    ranges: bool | None
    error: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    """The probe of a sample of a list, and the first suggestion drawn from it."""

    latency_s: float | None  # median over the URLs that answered
    sizes: tuple[int | None, ...]  # per sampled URL; None when the server did not say
    range_support: float | None  # fraction of answering URLs that sent 206 to `Range: bytes=0-0`
    suggestion: Recommendation
    probes: tuple[UrlProbe, ...] = ()


# ---- the probe ---------------------------------------------------------------------------------------------


def probe_url(url: str, timeout: float = 5.0) -> UrlProbe:
    """HEAD for the size, then on the same connection a GET of `Range: bytes=0-0`: only a 206 proves ranges.

    The response time is the GET's, on the already open connection, so it is the server's wait plus one
    round trip, as a download on a kept-alive connection sees it. Without a usable GET it is the HEAD's.
    """
    latency = size = None
    try:
        with requests.Session() as http:
            http.headers.update({"Accept-Encoding": "identity", "User-Agent": USER_AGENT})
            began = time.monotonic()
            head = http.head(url, timeout=timeout, allow_redirects=True)
            if head.ok:
                latency = time.monotonic() - began
                length = head.headers.get("Content-Length", "")
                size = int(length) if length.isdigit() else None
            began = time.monotonic()
            with http.get(url, headers={"Range": "bytes=0-0"}, timeout=timeout, stream=True) as got:
                if not got.ok:
                    return UrlProbe(url, latency, size, None, f"HTTP {got.status_code}")
                latency = time.monotonic() - began
                total = got.headers.get("Content-Range", "").rpartition("/")[2]
                length = got.headers.get("Content-Length", "")
                if size is None and total.isdigit():
                    size = int(total)
                elif size is None and got.status_code == 200 and length.isdigit():
                    size = int(length)
                return UrlProbe(url, latency, size, got.status_code == 206)
    except requests.RequestException as exc:
        return UrlProbe(url, latency, size, None, f"{type(exc).__name__}: {exc}")


def probe_urls(urls: Sequence[str], sample: int = 8, timeout: float = 5.0) -> list[UrlProbe]:
    """Probe up to `sample` URLs spread evenly over the list, all at once (a thread each)."""
    count = min(sample, len(urls))
    picked = list(dict.fromkeys(urls[i * len(urls) // count] for i in range(count))) if count else []
    results: list[UrlProbe | None] = [None] * len(picked)

    def one(index: int) -> None:
        results[index] = probe_url(picked[index], timeout)

    threads = [
        threading.Thread(target=one, args=(i,), name=f"probe-{i}", daemon=True) for i in range(len(picked))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout * 2 + 1)
    return [r for r in results if r is not None]


def median_latency(probes: Iterable[UrlProbe]) -> float | None:
    answered = [p.latency_s for p in probes if p.latency_s is not None]
    return statistics.median(answered) if answered else None


def probe(urls: Sequence[str], sample: int = 8, timeout: float = 5.0) -> ProbeResult:
    """A quick look at a sample of the list, and a first mode to try. Blocks: call it off the UI thread."""
    probes = probe_urls(urls, sample, timeout)
    latency = median_latency(probes)
    checked = [p.ranges for p in probes if p.ranges is not None]
    ranges = sum(checked) / len(checked) if checked else None
    sizes = tuple(p.size for p in probes)
    return ProbeResult(latency, sizes, ranges, suggest(len(urls), latency, sizes, ranges), tuple(probes))


def suggest(
    files: int, latency: float | None, sizes: Sequence[int | None], ranges: float | None = None
) -> Recommendation:
    """A first mode from what a probe saw: small waiting-bound files want many threads, large ones few."""
    known = [s for s in sizes if s is not None]
    if latency is None:
        return Recommendation(
            "thread-pool",
            DEFAULT_THREADS,
            f"None of the sampled URLs answered, so a thread pool of {DEFAULT_THREADS} is a safe start.",
        )
    typical = statistics.median(known) if known else None
    resume = (
        f" {ranges:.0%} of them accept ranges, so a broken transfer resumes." if ranges is not None else ""
    )
    answer = f"The server answered in {latency * 1000:.0f} ms"
    if typical is None or SMALL_FILE <= typical < LARGE_FILE:
        what = "did not say how big the files are" if typical is None else f"files are {human_bytes(typical)}"
        return Recommendation(
            "thread-pool",
            DEFAULT_THREADS,
            f"{answer} and {what}: a thread pool of 8 is a safe start.{resume}",
        )
    if typical < SMALL_FILE:
        workers = min(max(files, 4), 64)
        return Recommendation(
            "thread-pool",
            workers,
            f"{answer} and the files are small ({human_bytes(typical)}), so downloads will mostly wait: "
            f"a thread pool of {workers} overlaps the waiting in one process.{resume}",
        )
    workers = min(max(files, 1), 4)
    return Recommendation(
        "thread-pool",
        workers,
        f"{answer} and the files are large ({human_bytes(typical)}), so time goes to transfer, not waiting: "
        f"a thread pool of {workers} shares the link without extra processes.{resume}",
    )


# ---- the recommendation from measurement -------------------------------------------------------------------


def _name(run: ModeRun) -> str:
    """The mode's label for the middle of a sentence: 'thread pool', 'threads (one per URL)'."""
    return run.label[:1].lower() + run.label[1:]


def _share(fraction: float) -> str:
    """'92%', or 'nearly all' where rounding would claim 100% of a measured split."""
    return "nearly all" if fraction >= 0.995 else f"{fraction:.0%}"


def _processes(n: int) -> str:
    return f"{n} process{'es' if n != 1 else ''}"


def _grown_mb(run: ModeRun) -> float:
    """How much the app and its children grew during the run (absolute RSS depends on earlier runs)."""
    return max(0.0, run.peak_rss_mb - run.base_rss_mb)


def _cheaper(run: ModeRun, than: ModeRun) -> bool:
    """Fewer processes, or (as many) clearly less memory growth: MEMORY_MARGIN MB and a tenth at least."""
    if run.peak_processes != than.peak_processes:
        return run.peak_processes < than.peak_processes
    return _grown_mb(run) < _grown_mb(than) - max(MEMORY_MARGIN, 0.1 * _grown_mb(than))


def _choose(runs: Sequence[ModeRun]) -> tuple[ModeRun, ModeRun]:
    """(the recommended run, the fastest): the cheapest of those within NEAR of the fastest and clearly
    cheaper than it, else the fastest itself. Runs with failures count only when every run had some."""
    usable = [r for r in runs if r.failed == 0] or list(runs)
    fastest = min(usable, key=lambda r: r.elapsed_s)
    near = [r for r in usable if r.elapsed_s <= fastest.elapsed_s * (1 + NEAR) and _cheaper(r, fastest)]
    return min(near, key=lambda r: (r.peak_processes, _grown_mb(r), r.elapsed_s), default=fastest), fastest


def _why(report: ComparisonReport, runs: Sequence[ModeRun], chosen: ModeRun) -> str:
    """Where the time of one file went (waiting or transfer, and CPU), and what the chosen mode made of it."""
    sequential = next((r for r in runs if r.mode == "sequential"), None)
    timed = [r.file_s for r in runs if r.file_s > 0]
    per_file = sequential.file_s if sequential and sequential.file_s > 0 else min(timed, default=0.0)
    latency, cpu_ms = report.latency_s, 1000 * chosen.cpu_s / max(1, chosen.files)
    kind = "processes" if MODES[chosen.mode].uses_processes else "threads"
    if kind == "processes" and cpu_ms >= STAGE_HEAVY_S * 1000:
        cause = (
            f"Each file needed {cpu_ms:.0f} ms of CPU, which threads would share under one GIL, "
            "so processes paid off"
        )
    elif latency is not None and per_file > 0 and latency >= per_file / 2:
        overlap = {
            "threads": ", so threads overlap the waiting cheaply",
            "processes": ", so processes overlap it",
        }
        cause = (
            f"Files spent {_share(min(latency, per_file) / per_file)} of their time waiting on the server "
            f"({latency * 1000:.0f} ms each) and little on transfer"
            + ("" if chosen.mode == "sequential" else overlap[kind])
        )
    elif latency is not None and per_file > 0:
        best = max(r.mb_per_s for r in runs)
        cause = (
            f"Files spent {_share(1 - latency / per_file)} of their time on transfer ({per_file:.2f} s each, "
            f"at most {best:.0f} MB/s in any mode) and little waiting, so extra workers mostly share "
            "the same bandwidth"
        )
    else:
        cause = f"One file took {per_file:.2f} s on its own and {cpu_ms:.1f} ms of CPU"
    against = sequential if sequential and sequential is not chosen else max(runs, key=lambda r: r.elapsed_s)
    versus = "" if against is chosen else f" vs {against.elapsed_s:.2f} s {_name(against)}"
    return (
        f"{cause}: {_name(chosen)} with {chosen.workers} worker{'s' if chosen.workers != 1 else ''} "
        f"finished in {chosen.elapsed_s:.2f} s{versus}, using {_processes(chosen.peak_processes)} "
        f"and {chosen.peak_rss_mb:.0f} MB."
    )


def _stage(report: ComparisonReport, pipeline: ModeRun | None) -> tuple[str | None, str]:
    """Where the pipeline's post-processing belongs, from the CPU it measured per file."""
    if pipeline is None or pipeline.stage_cpu_s is None:
        return None, ""
    per_file = pipeline.stage_cpu_s / max(1, report.files)
    if per_file >= STAGE_HEAVY_S:
        return "processes", (
            f"Post-processing took {per_file * 1000:.0f} ms of CPU per file, so that stage belongs in "
            f"processes, where it runs on all {os.cpu_count() or 1} cores without holding up the download "
            f"threads: the {PIPELINE_LABEL} did downloads and processing in {pipeline.elapsed_s:.2f} s."
        )
    return "threads", (
        f"Post-processing took only {per_file * 1000:.1f} ms of CPU per file, so it can run in the download "
        f"threads; a process pool would cost more to feed than it saves."
    )


def recommend(report: ComparisonReport) -> Recommendation:
    """The mode and worker count for this list, and why, from what the comparison measured.

    The fastest download mode wins unless another finished within NEAR of it using fewer processes or
    less memory; then the cheaper one does, and the reason says so. With a pipeline run, its measured CPU
    per file says whether post-processing belongs in processes (the pipeline) or in the download threads:
    that is `stage`, and the reason's last sentence. Only a pipeline measured alone makes it the mode.
    """
    downloads = [r for r in report.runs if r.mode != PIPELINE]
    pipeline = next((r for r in report.runs if r.mode == PIPELINE), None)
    stage, stage_reason = _stage(report, pipeline)
    if not downloads:
        if pipeline is None:
            return Recommendation("thread-pool", DEFAULT_THREADS, "Nothing was measured yet.")
        return Recommendation(PIPELINE, pipeline.workers, stage_reason, stage)
    chosen, fastest = _choose(downloads)
    reason = _why(report, downloads, chosen)
    if chosen is not fastest:
        gain = 1 - fastest.elapsed_s / chosen.elapsed_s
        reason += (
            f" {fastest.label} was only {gain:.0%} faster ({fastest.elapsed_s:.2f} s) but used "
            f"{_processes(fastest.peak_processes)} and grew by {_grown_mb(fastest):.0f} MB "
            f"({_grown_mb(fastest) / max(1, fastest.workers):.1f} MB per worker; this mode grew by "
            f"{_grown_mb(chosen):.0f} MB), so the cheaper mode wins."
        )
    if stage_reason:
        reason += " " + stage_reason
    return Recommendation(chosen.mode, chosen.workers, reason, stage)
