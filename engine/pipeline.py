"""The pipeline option: downloads in a thread pool, a CPU stage in a process pool, a bounded queue between."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import queue
import re
import signal
import struct
import threading
import time
import zlib
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.sharedctypes import RawValue
from typing import Any

from engine.events import RetryPolicy
from engine.jobs import Job, JobState
from engine.session import Changes, Session, SessionStats
from engine.sources import UrlEntry
from engine.workers import process_context

PIPELINE = "pipeline"
PIPELINE_LABEL = "pipeline (thread pool + process pool)"
FEED_POLL = 0.05  # seconds between looks at the session for newly finished downloads
CHUNK = 1 << 20
MAX_IMAGE_BYTES = 64 << 20  # larger files are verified but get no thumbnail
CHECK_EVERY = 10_000  # rounds of artificial work between looks at the cancel flag
THUMB_SIDE = 16
MAX_PIXELS = 4_000_000  # decoding is pure Python: bigger images get no thumbnail
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PPM_HEADER = re.compile(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s")
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # grey, RGB, grey+alpha, RGBA (8 bits each)


# ---- thumbnails, with the standard library only ------------------------------------------------------------


@dataclass(frozen=True)
class Thumbnail:
    """A tiny greyscale picture (longest side THUMB_SIDE, nearest-pixel) and the image's mean colour."""

    width: int
    height: int
    grey: bytes  # width * height bytes, row by row
    mean_rgb: tuple[int, int, int]


def looks_like_image(head: bytes) -> bool:
    return head.startswith(PNG_SIGNATURE) or _PPM_HEADER.match(head) is not None


def thumbnail(data: bytes) -> Thumbnail | None:
    """Decode what the stdlib can (8-bit non-interlaced PNG, or binary PPM) and shrink it; else None."""
    try:
        decoded = _decode_png(data) if data.startswith(PNG_SIGNATURE) else _decode_ppm(data)
    except (ValueError, IndexError, struct.error, zlib.error):
        return None
    if decoded is None:
        return None
    width, height, channels, rows = decoded
    scale = min(1.0, THUMB_SIDE / max(width, height))
    tw, th = max(1, round(width * scale)), max(1, round(height * scale))
    grey = bytearray()
    for y in range(th):
        row = rows[y * height // th]
        for x in range(tw):
            at = x * width // tw * channels
            red, green, blue = row[at : at + 3] if channels >= 3 else row[at : at + 1] * 3
            grey.append((299 * red + 587 * green + 114 * blue) // 1000)
    pixels = width * height
    sums = [sum(sum(row[c::channels]) for row in rows) for c in range(3 if channels >= 3 else 1)]
    mean = [round(total / pixels) for total in sums] * (1 if channels >= 3 else 3)
    return Thumbnail(tw, th, bytes(grey), (mean[0], mean[1], mean[2]))


def _decode_ppm(data: bytes) -> tuple[int, int, int, list[bytes]] | None:
    match = _PPM_HEADER.match(data)
    if match is None or int(match.group(3)) != 255:
        return None
    width, height = int(match.group(1)), int(match.group(2))
    stride, start = width * 3, match.end()
    if not 0 < width * height <= MAX_PIXELS or len(data) < start + stride * height:
        return None
    return width, height, 3, [data[start + y * stride : start + (y + 1) * stride] for y in range(height)]


def _decode_png(data: bytes) -> tuple[int, int, int, list[bytes]] | None:
    pos, header, idat = 8, None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body, pos = data[pos + 8 : pos + 8 + length], pos + 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        return None
    width, height, depth, colour, _, _, interlace = header
    channels = _PNG_CHANNELS.get(colour)
    if depth != 8 or channels is None or interlace or not 0 < width * height <= MAX_PIXELS:
        return None
    raw, stride = zlib.decompress(b"".join(idat)), width * channels
    if len(raw) < height * (stride + 1):
        return None
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(raw[start], row, previous, channels)
        rows.append(bytes(row))
        previous = row
    return width, height, channels, rows


def _unfilter(kind: int, row: bytearray, up: bytearray, bpp: int) -> None:
    """Undo one PNG row filter in place (None, Sub, Up, Average, Paeth)."""
    if kind == 0:
        return
    if kind > 4:
        raise ValueError(f"unknown PNG filter {kind}")
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        above, corner = up[i], (up[i - bpp] if i >= bpp else 0)
        if kind == 1:
            add = left
        elif kind == 2:
            add = above
        elif kind == 3:
            add = (left + above) // 2
        else:
            p = left + above - corner
            pa, pb, pc = abs(p - left), abs(p - above), abs(p - corner)
            add = left if pa <= pb and pa <= pc else above if pb <= pc else corner
        row[i] = (row[i] + add) & 255


# ---- the CPU stage -----------------------------------------------------------------------------------------


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


_Item = tuple[int, str, str | None]  # job id, path, the SHA-256 the download computed


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


class Pipeline:
    """Downloads in Session("thread-pool"); a feeder thread puts each finished file on a bounded queue; a
    stage thread hands them to a process pool, never more at once than it has processes.

    When the queue is full the feeder blocks while the downloads go on, so the stage never holds more than
    `bound` files (queue_size waiting plus stage_workers being processed). Uses no job store.
    """

    def __init__(
        self,
        workers: int | None = None,
        stage_workers: int | None = None,
        queue_size: int = 8,
        cpu_rounds: int = 0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.session = Session("thread-pool", workers, retry)
        self.stage_workers = max(1, stage_workers or os.cpu_count() or 2)
        self.queue_size = max(1, queue_size)
        self.cpu_rounds = cpu_rounds
        self.max_in_flight = 0  # the most files the stage ever held (queued plus being processed)
        self.feeder_waits = 0  # how often the feeder found the queue full and had to wait
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=self.queue_size)
        self._slots = threading.Semaphore(self.stage_workers)
        self._lock = threading.Lock()
        self._processing = 0
        self._results: list[StageResult] = []
        self._pids: set[int] = set()
        self._changed: dict[int, Job] = {}  # what changed in the session, kept for `changes()`
        self._removed: list[int] = []
        self._fed: set[int] = set()
        self._cancel, self._done = threading.Event(), threading.Event()
        self._context = process_context()
        self._stop_flag: Any = RawValue("b", 0)  # shared memory, no semaphore for the resource tracker
        self._executor: ProcessPoolExecutor | None = None
        self._threads = (
            threading.Thread(target=self._feed, name="pipeline-feeder", daemon=True),
            threading.Thread(target=self._submit, name="pipeline-stage", daemon=True),
        )

    @property
    def bound(self) -> int:
        return self.queue_size + self.stage_workers

    @property
    def stage_cpu_s(self) -> float:
        with self._lock:
            return sum(r.cpu_s for r in self._results)

    @property
    def stage_failures(self) -> int:
        with self._lock:
            return sum(1 for r in self._results if not r.verified)

    def results(self) -> list[StageResult]:
        with self._lock:
            return list(self._results)

    def add(self, entries: Iterable[UrlEntry], dest_dir: str, priority: int = 0) -> list[int]:
        return self.session.add(entries, dest_dir, priority)

    def start(self) -> None:
        """Start the downloads, the process pool and the two threads between them (once)."""
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.stage_workers, self._context, initializer=_init_stage, initargs=(self._stop_flag,)
            )
            self.session.start()
            for thread in self._threads:
                thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every download has ended and every downloaded file has been through the stage."""
        return self._done.wait(timeout) if self._executor else self.session.wait(timeout)

    def cancel(self) -> None:
        """Cancel the downloads and the stage; files already processed keep their results."""
        self._cancel.set()
        self._stop_flag.value = 1
        self.session.cancel()

    def shutdown(self) -> None:
        """End everything and wait for it: the threads, the stage processes, the download workers."""
        if not self._done.is_set():
            self.cancel()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(10.0)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self.session.shutdown()

    def changes(self) -> Changes:
        """Like Session.changes: the jobs changed since the last call (read here, never on `session`)."""
        with self._lock:
            self._pull()
            changed = Changes(list(self._changed.values()), self._removed)
            self._changed, self._removed = {}, []
        return changed

    def _pull(self) -> list[Job]:
        """Take the session's changes (call with the lock held); returns downloads done and not yet fed."""
        changes = self.session.changes()
        self._changed.update((job.id, job) for job in changes.jobs)
        self._removed += changes.removed
        done = [j for j in changes.jobs if j.state is JobState.DONE and j.path and j.id not in self._fed]
        self._fed.update(j.id for j in done)
        return done

    def jobs(self) -> list[Job]:
        return self.session.jobs()

    def stats(self) -> SessionStats:
        """The download session's stats, with the stage processes seen so far among the worker pids."""
        stats = self.session.stats()
        with self._lock:
            return dataclasses.replace(stats, worker_pids=stats.worker_pids | self._pids)

    def _feed(self) -> None:
        """Put each newly finished download on the queue, blocking while it is full; then the sentinel."""
        while not self._cancel.is_set():
            settled = self.session.wait(FEED_POLL)
            with self._lock:
                done = self._pull()
            for job in done:
                if not self._put((job.id, str(job.path), job.sha256)):
                    return
            if settled:
                self._put(None)
                return

    def _put(self, item: _Item | None) -> bool:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.feeder_waits += 1
            while not self._cancel.is_set():
                try:
                    self._queue.put(item, timeout=FEED_POLL)
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
                    item = self._queue.get(timeout=FEED_POLL)
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
            for _ in range(self.stage_workers):  # every slot back: every submitted file is through
                self._slots.acquire()
        finally:
            self._done.set()

    def _take_slot(self) -> bool:
        while not self._slots.acquire(timeout=FEED_POLL):
            if self._cancel.is_set():
                return False
        if self._cancel.is_set():
            self._slots.release()
            return False
        return True

    def _collect(self, item: _Item, future: Future[StageResult]) -> None:
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
