"""Download benchmarks: Parafetch's modes against curl, aria2c and a bare requests loop, side by side.

    .venv/bin/python -m benchmarks.downloads [--quick] [--repeats N]

Starts its own servers (nginx on 127.0.0.1 serving generated files; benchmarks/latency_server.py for latency),
runs three workloads and prints one table each, medians over the repetitions:
  (a) one big file from nginx: throughput against `curl` and a bare requests loop;
  (b) many 16 KiB files behind 100 ms latency: elapsed against the ideal and `aria2c -j N`;
  (c) many 16 KiB files from nginx, no latency: files/s against `aria2c -j16` and `curl --parallel`.
Everything it writes lives in one temporary folder under /tmp, removed at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import shutil
import subprocess
import sys
import time

from benchmarks.contenders import (
    FULL,
    LATENCY,
    MIB,
    QUICK,
    SMALL,
    Scale,
    Workspace,
    aria2c,
    bare_loop_over,
    bare_requests_loop,
    command,
    curl_parallel,
    expect_files,
    fetch_in_process,
    fresh,
    in_process,
    parafetch,
)
from benchmarks.measure import Contender, Result, race
from benchmarks.report import Goal, goals_text, percent, ratio, seconds, table
from benchmarks.servers import LatencyServer, Nginx, make_small_files, write_big_file


def big_file(ws: Workspace, scale: Scale) -> tuple[str, list[Goal]]:
    size = scale.big_bytes
    www = ws.folder("www-big")
    write_big_file(www / "big.bin", size)
    dest = ws.root / "dl" / "big"
    with Nginx(www, ws.folder("nginx-big")) as nginx:
        url = f"{nginx.base_url}/big.bin"
        curl = command(ws, "curl", 1, ["curl", "-s", "-o", str(dest / "big.bin"), url], dest, 1, size, size)
        cli = parafetch(ws, "sequential", None, [url], size, units_per_file=size)
        cli.label = "parafetch get (subprocess)"
        inside = in_process(
            "parafetch fetch() in-process",
            "engine.transfer.fetch_alone(Task(1, URL, DIR), ...)",
            lambda: fetch_in_process(url, dest),
            dest,
            size,
        )
        bare = in_process(
            "bare requests loop",
            "requests.get(URL, stream=True).iter_content(1 MiB) -> f.write",
            lambda: bare_requests_loop(url, dest / "big.bin"),
            dest,
            size,
        )
        then_sync = ["sh", "-c", f'curl -s -o "$1" {url} && sync "$1"', "sh", str(dest / "big.bin")]
        synced_curl = command(ws, "curl, then sync FILE", 1, then_sync, dest, 1, size, size)
        synced_bare = in_process(
            "bare requests loop + fsync",
            "the same, then os.fsync(f) before close",
            lambda: bare_requests_loop(url, dest / "big.bin", durable=True),
            dest,
            size,
        )
        disk = command(ws, "dd conv=fsync (the disk's limit)", 1,
                       ["dd", f"if={www / 'big.bin'}", f"of={dest / 'big.bin'}", "bs=1M", "conv=fsync",
                        "status=none"], dest, 1, size, size)
        contenders = [curl, cli, inside, bare, synced_curl, synced_bare, disk]
        race(contenders[:1], 1, quiet=True)  # warm-up: page cache and memory the first run would pay for
        results = race(contenders, scale.repeats, watch=[nginx.pid])
    by = {r.contender.label: r for r in results}
    base_curl, base_bare = by["curl"], by["bare requests loop"]
    rows = []
    for r in results:
        if not r.ok:
            rows.append([r.contender.label, str(r.contender.n), f"FAILED: {r.error}", *["–"] * 6])
            continue
        rows.append(
            [
                r.contender.label,
                str(r.contender.n),
                seconds(r.median),
                f"{r.rate / MIB:.0f}",
                ratio(_ratio(r, base_curl)),
                ratio(_ratio(r, base_bare)),
                seconds(r.cpu_median),
                f"{r.server_load or 0:.2f}",
                " ".join(f"{e:.2f}" for e in r.elapsed),
            ]
        )
    notes = [
        "Rate is MiB/s at the median time; ratios are rate over the peer's rate (>1 = faster). CPU s is the "
        "client's user+sys time (subprocesses: of the child; in-process: of this process); nginx CPU is "
        "cores busy in nginx over the run. Runs are interleaved round-robin after one untimed curl run. "
        "Parafetch fsyncs every file before giving it its final name (and checkpoints every second), so its "
        "pace is bounded by how fast the disk makes data durable; the two '+ sync' rows pay the same price. "
        "The subprocess row includes interpreter start-up (~0.4 s), the job store and fsyncs. dd copies "
        "the served file (from the page cache) and fsyncs it: how fast this disk makes 1 GiB durable.",
        "",
        "Commands:",
        *(f"    {r.contender.label}: {r.contender.command}" for r in results),
    ]
    text = table(
        f"(a) one {size // MIB} MiB file from nginx, median of {scale.repeats}",
        [
            "tool",
            "N",
            "elapsed s (median)",
            "MiB/s",
            "vs curl",
            "vs bare loop",
            "CPU s",
            "nginx CPU",
            "runs (s)",
        ],
        rows,
        notes,
    )
    get, inside_result = by["parafetch get (subprocess)"], by["parafetch fetch() in-process"]
    goals = [
        _goal("(a) Parafetch get ≥ curl, then sync FILE", get, by["curl, then sync FILE"], 1.0),
        _goal("(a) fetch() in-process ≥ 90% of the bare requests loop that fsyncs at the end", inside_result,
              by["bare requests loop + fsync"], 0.9),
        _goal("(a) get in a subprocess within 10% of fetch() in-process", get, inside_result, 0.9),
        Goal("(a) Parafetch get vs curl without durability (no threshold)", True,
             ratio(_ratio(get, base_curl))),
    ]
    return text, goals


def _ratio(result: Result, peer: Result) -> float | None:
    """How many times the peer's rate a result achieves (>1 = faster than the peer)."""
    return peer.median / result.median if result.ok and peer.ok else None


def _goal(name: str, result: Result, peer: Result, at_least: float) -> Goal:
    value = _ratio(result, peer)
    if value is None:
        return Goal(name, False, "not measured (a run failed)")
    return Goal(name, value >= at_least, f"{value:.2f}× {peer.contender.label} (needs ≥ {at_least:.2f}×)")


# ---- (b) many small files behind latency ----------------------------------------------------------------


def latency_plan(files: int, sequential_files: int) -> list[tuple[str, int | None, int]]:
    """(mode, workers, how many of the files) for every Parafetch row of table (b)."""
    return [
        ("sequential", None, sequential_files),
        ("threads", None, files),
        ("thread-pool", 8, files),
        ("thread-pool", 32, files),
        ("thread-pool", 128, files),
        ("processes", None, files),
        ("process-pool", 8, files),
        ("process-pool", 32, files),
    ]


def many_latency(ws: Workspace, scale: Scale) -> tuple[str, list[Goal]]:
    with LatencyServer() as server:
        urls = [f"{server.base_url}/gen/{SMALL}/f{i}?latency={LATENCY:g}" for i in range(scale.latency_files)]
        ours = [
            parafetch(ws, mode, n, urls[:count], SMALL)
            for mode, n, count in latency_plan(scale.latency_files, scale.latency_sequential_files)
        ]
        peer_keys = sorted({(c.n or 1, int(c.units)) for c in ours})
        peers = {key: aria2c(ws, key[0], urls[: key[1]], SMALL) for key in peer_keys}
        results = race([*ours, *peers.values()], scale.repeats, watch=[server.pid])
    peer_results = {(r.contender.n or 1, int(r.contender.units)): r for r in results[len(ours) :]}
    rows = []
    tp: dict[int, tuple[float | None, float | None]] = {}
    for r in results:
        files, n = int(r.contender.units), r.contender.n or 1
        ideal = math.ceil(files / n) * LATENCY
        if not r.ok:
            rows.append([r.contender.label, str(n), str(files), f"FAILED: {r.error}", *["–"] * 8])
            continue
        peer = peer_results[(n, files)]
        over = r.median / ideal - 1
        inner = r.inner_median
        over_inner = inner / ideal - 1 if inner is not None else None
        if r.contender.label == "parafetch thread-pool":
            tp[n] = (over, over_inner)
        rows.append(
            [
                r.contender.label,
                str(n),
                str(files),
                seconds(r.median),
                seconds(r.inner_median),
                f"{ideal:.1f}",
                percent(over),
                percent(over_inner),
                ratio(peer.median / r.median if peer.ok and peer is not r else None),
                f"{files / r.median:.0f}",
                seconds(r.cpu_median),
                f"{r.server_load or 0:.2f}",
            ]
        )
    notes = [
        f"Each file is {SMALL // 1024} KiB from GET /gen/{SMALL}/fN?latency={LATENCY:g} (the server, one "
        f"asyncio loop in benchmarks/latency_server.py, waits {LATENCY * 1000:.0f} ms before answering). "
        f"Ideal = ceil(files / N) × {LATENCY * 1000:.0f} ms. "
        f"'in-run s' is Parafetch's own --json elapsed_s (no interpreter start-up or exit); 'over ideal' "
        f"uses end-to-end time, 'in-run over' uses in-run time.",
        f"sequential runs only the first {scale.latency_sequential_files} files (all {scale.latency_files} "
        f"would take {scale.latency_files * LATENCY:.0f} s by design); aria2c -j1 runs the same subset.",
        "threads/processes: N is how many run at once: all of them, up to the mode's memory-derived ceiling "
        "(processes: half the free memory at 60 MiB each).",
        "'vs aria2c' = aria2c's time at the same N and file count over ours (>1 = Parafetch faster).",
        "aria2c -j N (--max-concurrent-downloads) is how many list items download at once; with -x1 and "
        "--max-connection-per-server=1 each item uses one connection, so N means what a pool size "
        "means here.",
        "server CPU: cores busy in the latency server (one asyncio loop) over the run; near 1.0 means the "
        "server, not the client, sets the pace.",
        "",
        "Commands:",
        *(f"    {r.contender.label} N={r.contender.n}: {r.contender.command}" for r in results),
    ]
    text = table(
        f"(b) {scale.latency_files} files of {SMALL // 1024} KiB behind {LATENCY * 1000:.0f} ms latency "
        f"(asyncio server), median of {scale.repeats}",
        [
            "tool/mode",
            "N",
            "files",
            "elapsed s (median)",
            "in-run s",
            "ideal s",
            "over ideal",
            "in-run over",
            "vs aria2c",
            "files/s",
            "CPU s",
            "server CPU",
        ],
        rows,
        notes,
    )
    goals = []
    for n, limit in ((32, 0.08), (128, 0.50)):  # aim for +20% at 128
        end_to_end, in_run = tp.get(n, (None, None))
        goals.append(
            Goal(
                f"(b) thread-pool N={n} ≤ {1 + limit:.2f}× the ideal (in-run)",
                in_run is not None and in_run <= limit,
                f"in-run {percent(in_run)}, end to end {percent(end_to_end)} (needs ≤ +{limit:.0%})",
            )
        )
    return text, goals


# ---- (c) many small files, no latency ---------------------------------------------------------------------


def small_plan(files: int, processes_files: int) -> list[tuple[str, int | None, int]]:
    return [
        ("sequential", None, files),
        ("threads", None, files),
        ("thread-pool", 8, files),
        ("thread-pool", 16, files),
        ("thread-pool", 32, files),
        ("processes", None, processes_files),
        ("process-pool", 2, files),
        ("process-pool", 4, files),
    ]


def many_small(ws: Workspace, scale: Scale) -> tuple[str, list[Goal]]:
    www = ws.folder("www-small")
    names = make_small_files(www, scale.small_files, SMALL)
    with Nginx(www, ws.folder("nginx-small")) as nginx:
        urls = [f"{nginx.base_url}/{name}" for name in names]
        ours = [
            parafetch(ws, mode, n, urls[:count], SMALL)
            for mode, n, count in small_plan(scale.small_files, scale.small_processes_files)
        ]
        bare_dest = ws.root / "dl" / "bare-small"
        bare = Contender("bare requests loop", 1, "requests.Session().get(url) per file, written whole",
                         lambda: bare_loop_over(urls, bare_dest), units=len(urls),
                         reset=lambda: fresh(bare_dest), check=expect_files(bare_dest, len(urls), SMALL),
                         note="in-process")
        aria, curl = aria2c(ws, 16, urls, SMALL), curl_parallel(ws, 16, urls, SMALL)
        results = race([*ours, bare, aria, curl], scale.repeats, watch=[nginx.pid])
    bare_result, aria_result, curl_result = results[-3], results[-2], results[-1]
    sequential = next(r for r in results if r.contender.label == "parafetch sequential")
    rows = []
    best: Result | None = None
    for r in results:
        files = int(r.contender.units)
        if not r.ok:
            rows.append([r.contender.label, str(r.contender.n), str(files), f"FAILED: {r.error}", *["–"] * 7])
            continue
        inner_rate = files / r.inner_median if r.inner_median else None
        rows.append(
            [
                r.contender.label,
                str(r.contender.n),
                str(files),
                seconds(r.median),
                f"{r.rate:.0f}",
                f"{inner_rate:.0f}" if inner_rate else "–",
                ratio(_rate_ratio(r, aria_result)),
                ratio(_rate_ratio(r, curl_result)),
                f"{1000 * r.cpu_median / files:.2f}",
                f"{r.server_load or 0:.2f}",
            ]
        )
        if r.contender.label.startswith("parafetch") and r.ok and (best is None or r.rate > best.rate):
            best = r
    notes = [
        f"{scale.small_files} distinct files of {SMALL // 1024} KiB from nginx (sendfile, keep-alive). "
        f"processes runs only the first {scale.small_processes_files} (a new interpreter per file); rates "
        f"are per file actually fetched, so rows compare.",
        "files/s uses end-to-end time (interpreter start-up included); 'in-run files/s' uses Parafetch's "
        "own --json elapsed_s. Ratios are files/s over the peer's files/s (>1 = faster).",
        "CPU ms/file: client user+sys (with its worker processes) per file. nginx CPU: cores busy in nginx.",
        "curl --parallel is the practical ceiling of this machine: C, one process, one event loop.",
        "",
        "Commands:",
        *(f"    {r.contender.label} N={r.contender.n}: {r.contender.command}" for r in results),
    ]
    text = table(
        f"(c) {scale.small_files} files of {SMALL // 1024} KiB from nginx, no latency, "
        f"median of {scale.repeats}",
        [
            "tool/mode",
            "N",
            "files",
            "elapsed s (median)",
            "files/s",
            "in-run files/s",
            "vs aria2c -j16",
            "vs curl parallel",
            "CPU ms/file",
            "nginx CPU",
        ],
        rows,
        notes,
    )
    goals = []
    vs_bare = None  # in-run, as the bare loop runs in this process with no start-up of its own
    if sequential.ok and bare_result.ok and sequential.inner_median:
        vs_bare = (int(sequential.contender.units) / sequential.inner_median) / bare_result.rate
    goals.append(Goal("(c) sequential's in-run files/s ≥ 0.7× the bare single-thread requests loop's",
                      vs_bare is not None and vs_bare >= 0.7, f"{ratio(vs_bare)} (needs ≥ 0.70×, aim 0.90×)"))
    if best is not None:
        vs_aria, vs_curl = _rate_ratio(best, aria_result), _rate_ratio(best, curl_result)
        name = f"{best.contender.label} N={best.contender.n}"
        goals.append(
            Goal(
                "(c) best mode ≥ 2× aria2c -j16's files/s",
                vs_aria is not None and vs_aria >= 2.0,
                f"{name}: {ratio(vs_aria)} (needs ≥ 2.00×)",
            )
        )
        goals.append(
            Goal(
                "(c) fraction of curl --parallel's files/s (no threshold)", True, f"{name}: {ratio(vs_curl)}"
            )
        )
    return text, goals


def _rate_ratio(result: Result, peer: Result) -> float | None:
    return result.rate / peer.rate if result.ok and peer.ok else None


# ---- the run ---------------------------------------------------------------------------------------------


def machine_text(ws: Workspace, scale: Scale, quick: bool) -> str:
    def version(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return (done.stdout or done.stderr).strip().splitlines()[0]

    free = shutil.disk_usage(ws.root).free
    return "\n".join(
        [
            f"## Parafetch download benchmarks{' (--quick: smaller, 1 run each)' if quick else ''}",
            "",
            f"- {time.strftime('%Y-%m-%d %H:%M:%S')}, {platform.node()}, {os.cpu_count()} CPUs, "
            f"{_gib(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'))} RAM, load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start",
            f"- Python {platform.python_version()}; {version(['curl', '--version'])}; "
            f"{version(['aria2c', '--version'])}; {version(['nginx', '-v'])}",
            f"- workspace W={ws.root} ({_gib(free)} free); medians of {scale.repeats} run(s)",
            "",
        ]
    )


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.1f} GiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller workloads, one run each")
    parser.add_argument("--repeats", type=int, help="runs per contender (default 3, or 1 with --quick)")
    parser.add_argument("--only", choices=["a", "b", "c"], action="append", help="run only these tables")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    if args.repeats:
        scale = dataclasses.replace(scale, repeats=args.repeats)
    for tool in ("nginx", "curl", "aria2c"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install -y nginx-light curl aria2", file=sys.stderr)
            return 2
    ws = Workspace()
    need = 2 * scale.big_bytes + (1 << 30)
    if shutil.disk_usage(ws.root).free < need:
        print(f"/tmp needs {_gib(need)} free for the big-file run", file=sys.stderr)
        ws.remove()
        return 2
    began = time.monotonic()
    goals: list[Goal] = []
    try:
        ws.compile_parafetch()
        print(machine_text(ws, scale, args.quick), flush=True)
        workloads = {"a": big_file, "b": many_latency, "c": many_small}
        for key, workload in workloads.items():
            if args.only and key not in args.only:
                continue
            print(f"running ({key})…", file=sys.stderr, flush=True)
            text, met = workload(ws, scale)
            print(text, flush=True)
            goals += met
    finally:
        ws.remove()
    print(goals_text(goals))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Total {time.monotonic() - began:.0f} s; load average {load} at the end.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
