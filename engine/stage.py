"""The CPU stage after a download: each finished file hashed (SHA-256, checked against what the download
computed) and, if it is an image, thumbnailed, in a pool of processes fed by the engine loop."""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.sharedctypes import RawValue
from typing import Any

from engine.thumbnails import Thumbnail, load_formats, make_thumbnail
from engine.workers import process_context

CHUNK = 1 << 20
CHECK_EVERY = 10_000  # rounds of artificial work between looks at the cancel flag
CANCELLED = "cancelled"


@dataclass(frozen=True)
class StageResult:
    """What the CPU stage found for one downloaded file."""

    job_id: int
    path: str
    sha256: str | None  # of the file as it is on disk now
    verified: bool  # equal to the SHA-256 the download computed while it wrote the file
    thumbnail: Thumbnail | None
    cpu_s: float  # CPU time the stage used for this file, measured in the stage process
    pid: int
    error: str | None = None


@dataclass(frozen=True)
class StageConfig:
    """A stage as a front end asks for it: its processes (None: one per CPU) and extra CPU work per file
    (`cpu_rounds` chained SHA-256s of 32 bytes, ~1 µs each: how Compare makes the stage CPU-heavy)."""

    workers: int | None = None
    cpu_rounds: int = 0


@dataclass(frozen=True)
class StageStats:
    """What a stage has done so far."""

    workers: int
    busy: int  # files waiting for a process or being processed
    processed: int
    failures: int  # files that did not verify (or could not be read)
    cpu_s: float
    max_in_flight: int  # the most files processed at once
    waits: int  # files that found every process busy and waited their turn
    pids: frozenset[int]


StageItem = tuple[int, str, str | None]  # job id, path, the SHA-256 the download computed


@dataclass(frozen=True)
class StageDone:
    """A stage's result, on its way to the engine loop; `stage` numbers the stage it came from."""

    stage: int
    result: StageResult


_stop_flag: Any = None  # a shared byte (RawValue), handed to each stage process at start-up; 1 means stop


def _init_stage(stop_flag: Any) -> None:
    global _stop_flag
    _stop_flag = stop_flag
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    load_formats()


def _burn(rounds: int, seed: bytes) -> bool:
    """Artificial CPU work: `rounds` chained SHA-256s of 32 bytes (~1 µs each, GIL held); False if stopped."""
    digest = seed
    for done in range(rounds):
        if done % CHECK_EVERY == 0 and _stop_flag is not None and _stop_flag.value:
            return False
        digest = hashlib.sha256(digest).digest()
    return True


def process_file(job_id: int, path: str, expected_sha256: str | None, cpu_rounds: int = 0) -> StageResult:
    """The CPU stage for one file, in a stage process: hash it from disk, thumbnail an image, extra work."""
    began = time.process_time()
    pid = os.getpid()
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
    except OSError as exc:
        unread = f"cannot read the file: {exc.strerror or exc}"
        return StageResult(job_id, path, None, False, None, time.process_time() - began, pid, unread)
    sha = digest.hexdigest()
    thumb = make_thumbnail(path)
    if not _burn(cpu_rounds, digest.digest()):
        return StageResult(job_id, path, sha, False, thumb, time.process_time() - began, pid, CANCELLED)
    verified = sha == expected_sha256
    failure = None if verified else "the file on disk differs from what was downloaded"
    return StageResult(job_id, path, sha, verified, thumb, time.process_time() - began, pid, failure)


class Stage:
    """A pool of stage processes that its owner feeds from one thread (the engine loop's): `put` a file;
    at most `workers` files are processed at once, the rest wait their turn here. Each result is handed to
    `deliver` on a pool thread; the owner passes it back to `done` on its own thread, which starts the next
    file. Every file put gets exactly one result (a cancelled one says so)."""

    def __init__(self, deliver: Callable[[StageResult], None], config: StageConfig = StageConfig()) -> None:
        self.config = config
        self.workers = max(1, config.workers or os.cpu_count() or 2)
        self._deliver = deliver
        self._waiting: deque[StageItem] = deque()
        self._in_flight = 0
        self._processed = self._failures = self._waits = self._max_in_flight = 0
        self._cpu_s = 0.0
        self._pids: set[int] = set()
        self._cancelled = False
        self._stop_flag: Any = RawValue("b", 0)  # shared memory, no semaphore for the resource tracker
        self._executor: ProcessPoolExecutor | None = None
        self._shutdown_lock = threading.Lock()

    @property
    def busy(self) -> int:
        """Files waiting or being processed."""
        return len(self._waiting) + self._in_flight

    def stats(self) -> StageStats:
        return StageStats(self.workers, self.busy, self._processed, self._failures, self._cpu_s,
                          self._max_in_flight, self._waits, frozenset(self._pids))

    def put(self, item: StageItem) -> None:
        """Process a file as soon as a process is free (a cancelled stage answers it as cancelled at once)."""
        if self._cancelled:
            self._answer_cancelled(item)
            return
        if self._in_flight >= self.workers:
            self._waits += 1
        self._waiting.append(item)
        self._fill()

    def done(self, result: StageResult) -> None:
        """A result the owner got from `deliver`: count it and start the next file."""
        self._in_flight -= 1
        self._processed += 1
        self._failures += not result.verified
        self._cpu_s += result.cpu_s
        if result.pid:
            self._pids.add(result.pid)
        self._fill()

    def cancel(self) -> None:
        """Stop at once: waiting files are answered as cancelled, files being processed stop their extra
        work and say so."""
        self._cancelled = True
        self._stop_flag.value = 1
        while self._waiting:
            self._answer_cancelled(self._waiting.popleft())

    def _answer_cancelled(self, item: StageItem) -> None:
        self._in_flight += 1  # its answer comes back through `done` like any other
        self._deliver(StageResult(item[0], item[1], None, False, None, 0.0, 0, CANCELLED))

    def shutdown(self) -> None:
        """End the stage processes and wait for them (blocks: call it off the engine loop's thread; from
        any number of threads at once)."""
        with self._shutdown_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)

    def _fill(self) -> None:
        while self._waiting and self._in_flight < self.workers:
            item = self._waiting.popleft()
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            try:
                if self._executor is None:
                    self._executor = ProcessPoolExecutor(
                        self.workers, process_context(), initializer=_init_stage, initargs=(self._stop_flag,)
                    )
                future = self._executor.submit(process_file, *item, self.config.cpu_rounds)
            except RuntimeError as exc:  # a broken or shut-down pool: this file's failure
                future = Future()
                future.set_exception(exc)
            future.add_done_callback(functools.partial(self._finished, item))

    def _finished(self, item: StageItem, future: Future[StageResult]) -> None:
        """On a pool thread (or the owner's, for a future already done): hand the result on."""
        error = future.exception() if not future.cancelled() else None
        if future.cancelled():
            result = StageResult(item[0], item[1], None, False, None, 0.0, 0, CANCELLED)
        elif error is not None:
            result = StageResult(item[0], item[1], None, False, None, 0.0, 0, f"stage failed: {error}")
        else:
            result = future.result()
        self._deliver(result)
