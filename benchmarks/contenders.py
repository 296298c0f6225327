"""The download benchmarks' contenders and where they run: Parafetch's `get` in each mode, curl, aria2c
and bare requests loops, each a Contender for `benchmarks.measure.race`, in one temporary Workspace, at
a Scale (the full run's or the quick one's)."""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from benchmarks.measure import Contender, run_command
from benchmarks.servers import ROOT
from engine.events import Task
from engine.http_client import new_http_session
from engine.modes import MODES
from engine.transfer import FileState, fetch_alone

MIB = 1 << 20
SMALL = 16 * 1024
LATENCY = 0.1
POOL_MODES = ("thread-pool", "process-pool")


@dataclass(frozen=True)
class Scale:
    """How big each workload is and how often every contender runs."""

    big_bytes: int
    latency_files: int
    latency_sequential_files: int
    small_files: int
    small_processes_files: int
    repeats: int


FULL = Scale(1 << 30, 500, 50, 2000, 200, 3)
QUICK = Scale(128 * MIB, 100, 20, 300, 100, 1)


class Workspace:
    """One temporary folder for the whole run: served files, downloads, Parafetch's stores, byte code."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="parafetch-bench-", dir="/tmp"))
        self.root.chmod(0o755)  # nginx's workers (nobody, when run as root) must reach the served files
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        # Parafetch's children get compiled byte code, as an installed app has, without touching the checkout.
        self.env["PYTHONPYCACHEPREFIX"] = str(self.root / "pycache")

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def shown(self, argv: Sequence[str]) -> str:
        """The command line as run, with the workspace written as $W."""
        return shlex.join(argv).replace(str(self.root), "$W").replace(sys.executable, "python")

    def compile_parafetch(self) -> None:
        """Import what `main.py get` and its worker processes import once, so every timed run finds .pyc."""
        run_command(
            [sys.executable, "-c", "import main, engine.cli, engine.worker, multiprocessing.forkserver"],
            cwd=str(ROOT),
            env=self.env,
        )

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def fresh(folder: Path) -> None:
    """An empty folder at `folder`: what was downloaded before is deleted."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def expect_files(folder: Path, count: int, size: int) -> Callable[[], None]:
    """A check that `folder` holds exactly `count` files of `size` bytes each."""

    def check() -> None:
        sizes = [entry.stat().st_size for entry in os.scandir(folder)]
        wrong = [s for s in sizes if s != size]
        if len(sizes) != count or wrong:
            found = f"found {len(sizes)} ({len(wrong)} of the wrong size)"
            raise RuntimeError(f"expected {count} files of {size} B, {found}")

    return check


def write_list(path: Path, urls: Sequence[str]) -> Path:
    path.write_text("".join(url + "\n" for url in urls))
    return path


def command(
    ws: Workspace,
    label: str,
    n: int | None,
    argv: list[str],
    dest: Path,
    files: int,
    size: int,
    units: float,
    note: str = "",
    read: Callable[[str], float | None] = lambda out: None,
) -> Contender:
    """A contender that runs one command into `dest` and must leave `files` files of `size` bytes there."""
    return Contender(
        label,
        n,
        ws.shown(argv),
        run=lambda: read(run_command(argv, cwd=str(ROOT), env=ws.env)),
        units=units,
        reset=lambda: fresh(dest),
        check=expect_files(dest, files, size),
        note=note,
    )


def concurrency(mode: str, workers: int | None, files: int) -> int:
    """How many downloads a mode runs at once: its pool size, or its memory-derived ceiling."""
    if mode in POOL_MODES:
        assert workers is not None
        return workers
    ceiling = MODES[mode](queue.SimpleQueue(), workers).ceiling().limit
    return min(files, ceiling)


def parafetch(
    ws: Workspace, mode: str, workers: int | None, urls: Sequence[str], size: int, units_per_file: float = 1.0
) -> Contender:
    """`main.py get` in one mode over a URL list; its --json elapsed_s is kept as the in-run time."""
    slug = f"{mode}-{workers or 'all'}-{len(urls)}"
    dest, data = ws.root / "dl" / slug, ws.root / "data" / slug
    listing = write_list(ws.root / f"list-{slug}.txt", urls)
    argv = [sys.executable, "main.py", "get", "-m", mode]
    argv += ["-w", str(workers)] if workers else []
    argv += ["-i", str(listing), "-d", str(dest), "--data-dir", str(data), "--json"]

    def read(out: str) -> float:
        report = json.loads(out.strip().splitlines()[-1])
        failed = [job for job in report["jobs"] if job["state"] != "done"]
        if failed:
            raise RuntimeError(f"{len(failed)} jobs not done, e.g. {failed[0]['error']}")
        return float(report["elapsed_s"])

    contender = command(
        ws,
        f"parafetch {mode}",
        concurrency(mode, workers, len(urls)),
        argv,
        dest,
        len(urls),
        size,
        units=len(urls) * units_per_file,
        read=read,
    )

    def reset() -> None:
        fresh(dest)
        shutil.rmtree(data, ignore_errors=True)  # a new job store each run: nothing is "already done"

    contender.reset = reset
    return contender


def aria2c(ws: Workspace, jobs: int, urls: Sequence[str], size: int) -> Contender:
    dest = ws.root / "dl" / f"aria2c-{jobs}-{len(urls)}"
    listing = write_list(ws.root / f"list-aria2c-{len(urls)}.txt", urls)
    argv = [
        "aria2c",
        "-j",
        str(jobs),
        "-i",
        str(listing),
        "--max-connection-per-server=1",
        "-x1",
        "--allow-overwrite=true",
        "-d",
        str(dest),
        "--console-log-level=error",
        "--summary-interval=0",
    ]
    if jobs > 16:
        argv.append(f"--max-concurrent-downloads={jobs}")
    return command(ws, f"aria2c -j{jobs}", jobs, argv, dest, len(urls), size, units=len(urls))


def curl_parallel(ws: Workspace, jobs: int, urls: Sequence[str], size: int) -> Contender:
    dest = ws.root / "dl" / f"curl-parallel-{jobs}"
    config = ws.root / f"curl-{len(urls)}.cfg"
    config.write_text("".join(f'url = "{u}"\noutput = "{dest / u.rsplit("/", 1)[1]}"\n' for u in urls))
    argv = ["curl", "-s", "--parallel", "--parallel-max", str(jobs), "-Z", "-K", str(config)]
    return command(ws, f"curl --parallel-max {jobs}", jobs, argv, dest, len(urls), size, units=len(urls))


# ---- (a) one big file -------------------------------------------------------------------------------------


def fetch_in_process(url: str, dest: Path) -> None:
    """Parafetch's transfer of one file, with no interpreter start-up, session or store around it."""
    with new_http_session() as http:
        fetch_alone(Task(1, url, str(dest)), FileState(), http, lambda: None, lambda event: None)


def bare_requests_loop(url: str, target: Path, durable: bool = False) -> None:
    """The plainest way to download with requests: what Parafetch's transfer adds its safety to; with
    `durable`, the file is fsynced at the end, as Parafetch does before it renames a finished file."""
    with requests.get(url, stream=True, timeout=30) as response, open(target, "wb") as out:
        response.raise_for_status()
        for chunk in response.iter_content(MIB):
            out.write(chunk)
        if durable:
            out.flush()
            os.fsync(out.fileno())


def bare_loop_over(urls: Sequence[str], dest: Path) -> None:
    """A bare requests loop over a list: one keep-alive session, one thread, each file written whole."""
    with requests.Session() as http:
        for index, url in enumerate(urls):
            with http.get(url, timeout=30) as response:
                response.raise_for_status()
                (dest / str(index)).write_bytes(response.content)


def in_process(label: str, shown: str, action: Callable[[], None], dest: Path, size: int) -> Contender:
    return Contender(
        label,
        1,
        shown,
        action,
        size,
        reset=lambda: fresh(dest),
        check=expect_files(dest, 1, size),
        note="in-process",
    )
