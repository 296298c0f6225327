"""The CPU stage after a download: each file hashed (and thumbnailed) in a process pool fed from a queue."""

from __future__ import annotations

import functools
import hashlib
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.sharedctypes import RawValue
from typing import Any

from engine.thumbnails import Thumbnail, looks_like_image, thumbnail
from engine.workers import process_context

POLL = 0.05  # seconds between looks at the cancel flag while waiting for the queue or a free process
CHUNK = 1 << 20
MAX_IMAGE_BYTES = 64 << 20  # larger files are verified but get no thumbnail
CHECK_EVERY = 10_000  # rounds of artificial work between looks at the cancel flag


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


StageItem = tuple[int, str, str | None]  # job id, path, the SHA-256 the download computed


_stop_flag: Any = None  # a shared byte (RawValue), handed to each stage process at start-up; 1 means stop


def _init_stage(stop_flag: Any) -> None:
    global _stop_flag
    _stop_flag = stop_flag
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


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
        image: bytes | None = None
        with open(path, "rb") as handle:
            head = handle.read(CHUNK)
            if looks_like_image(head) and os.fstat(handle.fileno()).st_size <= MAX_IMAGE_BYTES:
                image = head + handle.read()
                digest.update(image)
            else:
                digest.update(head)
                while block := handle.read(CHUNK):
                    digest.update(block)
        sha = digest.hexdigest()
        thumb = thumbnail(image) if image is not None else None
        if not _burn(cpu_rounds, digest.digest()):
            return StageResult(job_id, path, sha, False, thumb, time.process_time() - began, pid, "cancelled")
    except OSError as exc:
        unread = f"cannot read the file: {exc.strerror or exc}"
        return StageResult(job_id, path, None, False, None, time.process_time() - began, pid, unread)
    verified = sha == expected_sha256
    failure = None if verified else "the file on disk differs from what was downloaded"
    return StageResult(job_id, path, sha, verified, thumb, time.process_time() - began, pid, failure)


class Stage:
    """A process pool of `workers` processes fed by one thread from a queue, never more files at once than
    it has processes. `queue_size` bounds the queue (0: unbounded, so `put` never blocks).

    `put` files, then `close()`: `wait()` returns once every file put has been processed. `on_result` is
    called with each result on a pool thread. `cancel()` stops the work at once; `shutdown()` ends it all.
    """

    def __init__(
        self,
        workers: int | None = None,
        queue_size: int = 0,
        cpu_rounds: int = 0,
        on_result: Callable[[StageResult], None] | None = None,
    ) -> None:
        self.workers = max(1, workers or os.cpu_count() or 2)
        self.queue_size = max(0, queue_size)
        self.cpu_rounds = cpu_rounds
        self.max_in_flight = 0  # the most files the stage ever held (queued plus being processed)
        self.waits = 0  # how often `put` found the queue full and had to wait
        self._on_result = on_result
        self._queue: queue.Queue[StageItem | None] = queue.Queue(maxsize=self.queue_size)
        self._slots = threading.Semaphore(self.workers)
        self._lock = threading.Lock()
        self._processing = 0
        self._results: list[StageResult] = []
        self._pids: set[int] = set()
        self._cancel, self._done = threading.Event(), threading.Event()
        self._stop_flag: Any = RawValue("b", 0)  # shared memory, no semaphore for the resource tracker
        self._executor: ProcessPoolExecutor | None = None
        self._thread = threading.Thread(target=self._submit, name="stage-submit", daemon=True)

    @property
    def started(self) -> bool:
        return self._executor is not None

    @property
    def cpu_s(self) -> float:
        with self._lock:
            return sum(r.cpu_s for r in self._results)

    @property
    def failures(self) -> int:
        with self._lock:
            return sum(1 for r in self._results if not r.verified)

    def pids(self) -> frozenset[int]:
        """The stage processes seen so far."""
        with self._lock:
            return frozenset(self._pids)

    def results(self) -> list[StageResult]:
        with self._lock:
            return list(self._results)

    def start(self) -> None:
        """Start the process pool and the thread that feeds it (once)."""
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.workers, process_context(), initializer=_init_stage, initargs=(self._stop_flag,)
            )
            self._thread.start()

    def put(self, item: StageItem) -> bool:
        """Queue a file, waiting while the queue is full; False when the stage was cancelled first."""
        return self._put(item)

    def close(self) -> bool:
        """No more files: the stage ends once those queued are processed."""
        return self._put(None)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the stage is closed and every file put has been processed (or it was cancelled)."""
        return self._done.wait(timeout)

    def cancel(self) -> None:
        """Stop at once: queued files are dropped, files being processed stop their extra work."""
        self._cancel.set()
        self._stop_flag.value = 1

    def shutdown(self) -> None:
        """Cancel unless done, then wait for the feeding thread and the stage processes to end."""
        if not self._done.is_set():
            self.cancel()
        if self._thread.is_alive():
            self._thread.join(10.0)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def _put(self, item: StageItem | None) -> bool:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.waits += 1
            while not self._cancel.is_set():
                try:
                    self._queue.put(item, timeout=POLL)
                    break
                except queue.Full:
                    continue
            else:
                return False
        self._note_held()
        return True

    def _note_held(self) -> None:
        with self._lock:
            self.max_in_flight = max(self.max_in_flight, self._queue.qsize() + self._processing)

    def _submit(self) -> None:
        """Take files off the queue into the process pool while a process is free; at the end, drain."""
        assert self._executor is not None
        try:
            while self._take_slot():
                try:
                    item = self._queue.get(timeout=POLL)
                except queue.Empty:
                    self._slots.release()
                    continue
                if item is None:
                    self._slots.release()
                    break
                with self._lock:
                    self._processing += 1
                self._note_held()
                try:
                    future = self._executor.submit(process_file, *item, self.cpu_rounds)
                except RuntimeError as exc:  # a broken or shut-down pool: this file's failure
                    future = Future()
                    future.set_exception(exc)
                future.add_done_callback(functools.partial(self._collect, item))
            for _ in range(self.workers):  # every slot back: every submitted file is through
                self._slots.acquire()
        finally:
            self._done.set()

    def _take_slot(self) -> bool:
        while not self._slots.acquire(timeout=POLL):
            if self._cancel.is_set():
                return False
        if self._cancel.is_set():
            self._slots.release()
            return False
        return True

    def _collect(self, item: StageItem, future: Future[StageResult]) -> None:
        result = None
        if not future.cancelled():
            error = future.exception()
            result = (
                future.result()
                if error is None
                else StageResult(item[0], item[1], None, False, None, 0.0, 0, f"stage failed: {error}")
            )
        with self._lock:
            self._processing -= 1
            if result is not None:
                self._results.append(result)
                self._pids.add(result.pid)
        self._slots.release()
        if result is not None and self._on_result is not None:
            self._on_result(result)
