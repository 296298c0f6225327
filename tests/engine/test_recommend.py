"""The recommendation from measurement, and the quick probe's first suggestion."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.compare import ComparisonReport, ModeRun, run_comparison
from engine.recommend import probe, recommend, suggest
from engine.sources import parse_text
from tests.support.http_server import TestServer, payload

pytestmark = pytest.mark.timeout(60)

BASE = ModeRun(
    mode="sequential", workers=1, elapsed_s=4.0, files_per_s=10.0, mb_per_s=0.2, peak_threads=6,
    mean_threads=6.0, peak_processes=1, peak_rss_mb=40.0, cpu_s=0.2, failed=0, files=40, bytes=40 * 16384,
    file_s=0.1, base_rss_mb=39.0,
)  # fmt: skip


def run(mode: str, workers: int, elapsed: float, processes: int = 1, rss: float = 42.0) -> ModeRun:
    return dataclasses.replace(
        BASE, mode=mode, workers=workers, elapsed_s=elapsed, peak_processes=processes, peak_rss_mb=rss
    )


def test_the_fastest_mode_wins_and_the_reason_gives_the_numbers() -> None:
    report = ComparisonReport((BASE, run("thread-pool", 8, 0.6), run("threads", 40, 0.25)), 40, 0.095)
    advice = recommend(report)
    assert (advice.mode, advice.workers, advice.stage) == ("threads", 40, None)
    assert "95% of their time waiting on the server (95 ms each)" in advice.reason
    assert "0.25 s vs 4.00 s sequential" in advice.reason and "1 process and 42 MB" in advice.reason


def test_a_cheaper_mode_within_ten_percent_of_the_fastest_wins_and_says_why() -> None:
    processes = run("processes", 40, 0.50, processes=41, rss=1100.0)
    pool = run("thread-pool", 40, 0.54)
    advice = recommend(ComparisonReport((BASE, processes, pool), 40, 0.095))
    assert advice.mode == "thread-pool"
    assert "Processes (one per URL) was only 7% faster (0.50 s) but used 41 processes" in advice.reason
    assert "so the cheaper mode wins" in advice.reason
    clearly_faster = dataclasses.replace(processes, elapsed_s=0.3, cpu_s=4.0)
    advice = recommend(ComparisonReport((BASE, clearly_faster, pool), 40, 0.095))
    assert advice.mode == "processes" and "100 ms of CPU" in advice.reason


def test_transfer_bound_lists_say_the_link_sets_the_pace() -> None:
    big = dataclasses.replace(BASE, file_s=2.0, elapsed_s=8.0, mb_per_s=33.0, files=4)
    pool = dataclasses.replace(big, mode="thread-pool", workers=4, elapsed_s=7.8, mb_per_s=34.0)
    advice = recommend(ComparisonReport((big, pool), 4, 0.001))
    assert advice.mode == "thread-pool" and "cheaper" not in advice.reason  # equal cost: the faster one
    assert "on transfer" in advice.reason and "extra workers mostly share the same bandwidth" in advice.reason


def test_a_cpu_heavy_stage_belongs_in_processes_and_a_light_one_in_threads(
    http_server: TestServer, tmp_path: Path
) -> None:
    urls = [http_server.add(f"/h{i}.bin", payload(f"h{i}", 8000), latency=0.05) for i in range(8)]
    listed = parse_text("\n".join(urls)).entries
    heavy = run_comparison(listed, ["thread-pool", "pipeline"], 4, 1, tmp_path, cpu_rounds=60_000)
    pipeline = heavy.runs[1]
    assert pipeline.mode == "pipeline" and pipeline.failed == 0 and pipeline.files == 8
    assert pipeline.stage_cpu_s is not None and pipeline.stage_cpu_s / 8 >= 0.01  # measured in the stage
    assert pipeline.cpu_s >= pipeline.stage_cpu_s * 0.9  # the children's CPU is in the app's total
    advice = recommend(heavy)
    assert (advice.mode, advice.workers, advice.stage) == ("thread-pool", 4, "processes")
    assert "that stage belongs in processes" in advice.reason
    light = recommend(run_comparison(listed, ["thread-pool", "pipeline"], 4, 1, tmp_path, probe=False))
    assert (light.mode, light.stage) == ("thread-pool", "threads")
    assert "it can run in the download threads" in light.reason


def test_the_probe_measures_latency_size_and_range_support(http_server: TestServer) -> None:
    urls = [http_server.add(f"/q{i:02d}.bin", payload(f"q{i}", 16384), latency=0.1) for i in range(12)]
    result = probe(urls)
    assert result.latency_s is not None and result.latency_s >= 0.1
    assert result.sizes == (16384,) * 8 and result.range_support == 1.0
    assert (result.suggestion.mode, result.suggestion.workers) == ("thread-pool", 12)
    assert "files are small" in result.suggestion.reason
    mixed = [http_server.add(f"/r{i}.bin", b"x" * 5000, ignore_range=i % 2 == 0) for i in range(4)]
    assert probe(mixed).range_support == 0.5  # servers that ignore Range are caught, whatever they advertise


def test_first_suggestions_for_large_files_and_for_silence(http_server: TestServer) -> None:
    large = [http_server.url(f"/gen/{64 << 20}/big{i}.bin") for i in range(3)]
    result = probe(large)
    assert result.sizes == (64 << 20,) * 3
    assert (result.suggestion.mode, result.suggestion.workers) == ("thread-pool", 3)
    assert "files are large" in result.suggestion.reason
    silent = probe(["http://127.0.0.1:9/nothing.bin"], timeout=2)
    assert silent.latency_s is None and silent.range_support is None
    assert (silent.suggestion.mode, silent.suggestion.workers) == ("thread-pool", 8)
    assert suggest(500, 0.2, [1000] * 8).workers == 64


def test_a_pipeline_measured_alone_is_the_recommendation() -> None:
    alone = dataclasses.replace(BASE, mode="pipeline", workers=8, stage_cpu_s=2.0)
    advice = recommend(ComparisonReport((alone,), 40, 0.1))
    assert (advice.mode, advice.workers, advice.stage) == ("pipeline", 8, "processes")
    assert "Post-processing took 50 ms of CPU per file" in advice.reason
