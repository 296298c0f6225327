"""A Task-Manager view of this app: its processes, their threads, CPU and memory (psutil, cheap at 5 Hz)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

REDISCOVER_EVERY = 1.0  # seconds between walks of the process tree (each reads every process's parent)


@dataclass(frozen=True)
class ProcessInfo:
    """One process of the app: the app itself, a worker, or a multiprocessing helper."""

    pid: int
    role: str
    threads: int
    cpu_percent: float
    rss: int


@dataclass(frozen=True)
class MonitorSample:
    """The app and all its children at one moment. CPU is in percent of one core (200 = two cores busy)."""

    time: float
    processes: int
    threads: int
    cpu_percent: float
    rss: int
    per_process: tuple[ProcessInfo, ...]


def _helper_role(process: psutil.Process) -> str:
    try:
        command = " ".join(process.cmdline())
    except (psutil.Error, OSError):
        return "child"
    if "forkserver" in command:
        return "forkserver"
    if "resource_tracker" in command:
        return "resource tracker"
    return "child"


class SystemMonitor:
    """Samples the engine's process tree; `worker_pids` names which children are download workers.

    A `front_end` (the window's process, when the engine runs in a host of its own) is listed as a row of
    its own, after the engine's; the sample's totals are the engine's alone.
    """

    WorkerPids = Callable[[], set[int] | frozenset[int]]

    def __init__(
        self, worker_pids: WorkerPids = frozenset, front_end: int | None = None,
        rediscover: float = REDISCOVER_EVERY,
    ) -> None:
        """The process tree is walked again `rediscover` seconds after the last walk, or at once when the
        engine names a worker not seen yet; between walks the processes known are read, and those that
        ended are dropped."""
        self._worker_pids = worker_pids
        self._rediscover = rediscover
        self._walked_at = float("-inf")
        self._me = psutil.Process(os.getpid())
        self._known: dict[int, psutil.Process] = {self._me.pid: self._me}
        self._roles: dict[int, str] = {self._me.pid: "app" if front_end is None else "engine"}
        self._me.cpu_percent(None)
        self._front_end: psutil.Process | None = None
        if front_end is not None:
            with contextlib.suppress(psutil.Error):
                self._front_end = psutil.Process(front_end)
                self._front_end.cpu_percent(None)

    def sample(self) -> MonitorSample:
        workers = self._worker_pids()
        now = time.monotonic()
        fresh: set[int] = set()
        if now - self._walked_at >= self._rediscover or not workers <= self._known.keys():
            self._walked_at = now
            fresh = self._walk()
        infos = []
        for pid, process in list(self._known.items()):
            try:
                with process.oneshot():
                    info = ProcessInfo(
                        pid,
                        self._role(pid, process, workers),
                        process.num_threads(),
                        0.0 if pid in fresh else process.cpu_percent(None),  # a new one has no interval yet
                        process.memory_info().rss,
                    )
            except psutil.Error:  # it ended since it was listed: NoSuchProcess, ZombieProcess, AccessDenied
                if pid != self._me.pid:
                    self._forget(pid)
                continue
            infos.append(info)
        return MonitorSample(
            time.monotonic(),
            len(infos),
            sum(i.threads for i in infos),
            sum(i.cpu_percent for i in infos),
            sum(i.rss for i in infos),
            tuple(infos) + self._front_end_row(),
        )

    def _walk(self) -> set[int]:
        """List the app's process tree (psutil reads every process's parent, so not at every sample):
        forget the processes gone, start the CPU reading of the new ones; returns the new ones."""
        try:
            children = self._me.children(recursive=True)
        except psutil.Error:
            children = []
        alive = {self._me.pid} | {c.pid for c in children}
        fresh: set[int] = set()
        for child in children:
            if child.pid not in self._known:
                try:
                    child.cpu_percent(None)  # the first reading only sets the baseline
                except psutil.Error:
                    continue  # it ended (or became a zombie) since it was listed
                self._known[child.pid] = child
                fresh.add(child.pid)
        for pid in set(self._known) - alive:
            self._forget(pid)
        return fresh

    def _front_end_row(self) -> tuple[ProcessInfo, ...]:
        front = self._front_end
        if front is None:
            return ()
        try:
            with front.oneshot():
                return (ProcessInfo(front.pid, "window", front.num_threads(), front.cpu_percent(None),
                                    front.memory_info().rss),)
        except psutil.Error:
            self._front_end = None  # the window is gone
            return ()

    def _forget(self, pid: int) -> None:
        self._known.pop(pid, None)
        self._roles.pop(pid, None)

    def _role(self, pid: int, process: psutil.Process, workers: set[int] | frozenset[int]) -> str:
        if pid in workers:
            return "worker"
        if pid not in self._roles:
            self._roles[pid] = _helper_role(process)
        return self._roles[pid]
