"""Timing for benchmarks: contenders run interleaved, repeated, and summarised by their medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import psutil


def _nothing() -> None:
    pass


@dataclass
class Contender:
    """One thing to time: how to run it once, how to reset before a run and check after it.

    `run` may return the tool's own idea of its elapsed time (Parafetch's `--json` elapsed_s), else None.
    """

    label: str
    n: int | None
    command: str
    run: Callable[[], float | None]
    units: float  # what one run moves: bytes or files, for the rate column
    reset: Callable[[], None] = _nothing
    check: Callable[[], None] = _nothing
    note: str = ""


@dataclass
class Result:
    """Every run of one contender: wall and CPU seconds, the tool's own time, a watched server's CPU."""

    contender: Contender
    elapsed: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    inner: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.elapsed)

    @property
    def median(self) -> float:
        return statistics.median(self.elapsed)

    @property
    def rate(self) -> float:
        """Units per second at the median time."""
        return self.contender.units / self.median

    @property
    def inner_median(self) -> float | None:
        return statistics.median(self.inner) if self.inner else None

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def server_load(self) -> float | None:
        """The watched server's CPU time over wall time (1.0 = one core busy), median over runs."""
        if not self.server_cpu:
            return None
        return statistics.median(c / e for c, e in zip(self.server_cpu, self.elapsed, strict=True))


def cpu_seconds() -> float:
    """User plus system time of this process and of every child it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def process_tree_cpu(pids: Sequence[int]) -> float:
    """User plus system seconds of these processes and their live children (a server's workers)."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


def timed(action: Callable[[], float | None]) -> tuple[float, float, float | None]:
    """Run `action` once: (wall seconds, CPU seconds of this process and waited children, its own time)."""
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    inner = action()
    elapsed = time.perf_counter() - start
    return elapsed, cpu_seconds() - cpu_before, inner


def run_command(argv: Sequence[str], cwd: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command to its end; returns its standard output, raises RuntimeError if it fails."""
    done = subprocess.run(
        list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"exit status {done.returncode}: {' / '.join(tail)}")
    return done.stdout


def race(
    contenders: Sequence[Contender], repeats: int, watch: Sequence[int] = (), quiet: bool = False
) -> list[Result]:
    """Run every contender `repeats` times, round-robin so that drift in the machine hits all alike.

    A contender that fails once is reported with its error and not run again. `watch` names server
    processes whose CPU time is recorded for each run.
    """
    results = [Result(c) for c in contenders]
    for rep in range(repeats):
        for result in results:
            if result.error is not None:
                continue
            contender = result.contender
            try:
                contender.reset()
                server_before = process_tree_cpu(watch)
                elapsed, cpu, inner = timed(contender.run)
                server_cpu = process_tree_cpu(watch) - server_before
                contender.check()
            except Exception as exc:  # one broken contender must not sink the other measurements
                result.error = f"{type(exc).__name__}: {exc}"
                _say(f"  {contender.label} N={contender.n}: FAILED {result.error}", quiet)
                continue
            result.elapsed.append(elapsed)
            result.cpu.append(cpu)
            if inner is not None:
                result.inner.append(inner)
            if watch:
                result.server_cpu.append(server_cpu)
            label = f"{contender.label} N={contender.n}"
            _say(f"  run {rep + 1}/{repeats} {label:<34} {elapsed:7.2f} s", quiet)
    for result in results:
        result.contender.reset()
    return results


def _say(line: str, quiet: bool) -> None:
    if not quiet:
        print(line, file=sys.stderr, flush=True)
