"""Fetching one URL into one `.part`: resume only what is proven, check every answer and the checksum."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import requests
import urllib3

from engine.credentials import basic_auth, without_userinfo
from engine.digester import Digester
from engine.errors import disk_error, permanent, retryable
from engine.events import Event, Progress, Resolved, Task
from engine.finisher import commit_download
from engine.http_client import (
    READ_TIMEOUT,
    JobCookies,
    open_url,
    status_error,
    validator,
)
from engine.jobs import StopAction
from engine.naming import PART_SUFFIX, choose_name, free_name, inside
from engine.partfile import PartFile

CHUNK = 1 << 16  # bytes asked of the socket per read. Below glibc's mmap threshold (128 KiB), so each
# chunk's memory is reused from the heap: 1 MiB reads were each a fresh mapping, 60k-290k page faults and
# about 1.5 s of system time per GiB (`/usr/bin/time -f %R` on `get` of 1 GiB; 9k-17k faults at 64 KiB)
BUFFER = 1 << 20  # a large file's chunks are gathered in reused buffers of this size, written and hashed
PROGRESS_EVERY = 0.1
CHECKPOINT_EVERY = 1.0  # seconds between fsyncs: at most this much data is fetched twice after a crash
LOW_SPEED_LIMIT = 1024  # bytes per second...
LOW_SPEED_TIME = 60.0  # ...sustained this long means the server is too slow: retry
MAX_FILE_BYTES = 1 << 60  # 1 EiB: a server declaring more is not believed (nor would it fit the store)
NAME_TRIES = 100  # reservations in a row that another file beat us to, before giving up
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)")
_NETWORK_ERRORS = (
    urllib3.exceptions.HTTPError,
    requests.exceptions.RequestException,
    ConnectionError,
    TimeoutError,
)

StopCheck = Callable[[], StopAction | None]
Emit = Callable[[Event], None]
# (wanted name, total, validator) -> (name, part path), once the store has them.
Reserve = Callable[[str, int | None, str | None], tuple[str, str]]


class Stopped(Exception):
    """The person asked this transfer to stop, to pause or to cancel it."""

    def __init__(self, action: StopAction) -> None:
        super().__init__(action)
        self.action = action


@dataclass
class FileState:
    """What is known about a job's file across attempts: its name, what of its `.part` is proven on disk
    (`durable` bytes whose SHA-256 is `durable_sha256`), the file's validator and size, its cookies."""

    name: str | None = None
    part_path: str | None = None
    validator: str | None = None
    total: int | None = None
    durable: int = 0
    durable_sha256: str | None = None
    cookies: JobCookies = field(default_factory=JobCookies)

    @classmethod
    def of(cls, task: Task) -> FileState:
        if task.offered:  # a new file: the offered name is the worker's to take or decline (see Task)
            return cls()
        return cls(task.name, task.part_path, task.validator, task.total, task.durable, task.part_sha256)

    def forget_part(self) -> None:
        """The part file is gone: the next attempt starts from nothing (its reserved name is kept)."""
        self.durable, self.durable_sha256 = 0, None


@dataclass(frozen=True)
class Fetched:
    """Every byte of the file is in its part, and verified; the part is not durable yet, nor named: the
    engine fsyncs it and gives it its final name (`engine.finisher`), so the worker starts its next job."""

    size: int
    sha256: str


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def fetch_alone(
    task: Task, state: FileState, http: requests.Session, stop: StopCheck, emit: Emit
) -> tuple[str, Fetched]:
    """A fetch outside any session (a benchmark, a probe), committed at once: the file's path, and what
    the fetch found. Names are checked against the folder only, and nothing records them."""
    folder = Path(task.dest_dir)

    def reserve(wanted: str, *_: object) -> tuple[str, str]:
        name = free_name(folder, wanted, set())
        return name, str(folder / (name + PART_SUFFIX))

    fetched = fetch(task, state, http, stop, emit, reserve)
    final = inside(folder, str(state.name))
    commit_download(str(state.part_path), final, fetched.size)
    return str(final), fetched


def fetch(
    task: Task, state: FileState, http: requests.Session, stop: StopCheck, emit: Emit, reserve: Reserve
) -> Fetched:
    """One attempt at a job: resume what `state` proves, stream to `.part`, verify."""
    if not os.path.isdir(task.dest_dir):
        raise permanent(f"the destination folder {task.dest_dir} is missing (deleted or unmounted?)")
    opened = None
    if state.part_path and state.validator:
        opened = PartFile.reopen(state.part_path, state.durable, state.durable_sha256)
    part, digest = opened if opened else (None, hashlib.sha256())
    try:
        url, auth = without_userinfo(task.url), basic_auth(task.credentials)
        response, offset = _request(http, url, auth, state, state.durable if part else 0)
        with response:
            if offset and response.status_code == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE:
                assert part is not None  # a resume kept this 416: the file is all here
                part.truncate(offset)
                return _verified(task, state, part, offset, digest)
            if response.status_code >= 400:
                raise status_error(response)
            total = _declared_total(response)
            reserved = part is None and state.part_path is None  # the reservation told the session all
            if part is None:
                part = _new_part(state, response, total, reserve)  # new and empty: offset is 0
            else:
                part.truncate(offset)  # a resume: drop the tail past what is proven (all of it on a 200)
            if offset == 0:
                digest = hashlib.sha256()
                state.forget_part()
            state.total, state.validator = total, validator(response)
            if not reserved:
                emit(Resolved(task.job_id, str(state.name), part.path, total, state.validator, offset))
            size = _receive(task.job_id, state, part, response, offset, digest, stop, emit)
        if total is not None and size != total:
            raise retryable(f"connection closed early: received {human_bytes(size)} of {human_bytes(total)}")
        return _verified(task, state, part, size, digest)
    finally:
        if part is not None:
            part.close()


def _request(
    http: requests.Session, url: str, auth: tuple[str, str] | None, state: FileState, offset: int
) -> tuple[requests.Response, int]:
    """Ask for the file from `offset`; returns the answer and the offset its body starts at.

    A resume is kept only when the answer continues exactly this file: a 206 for the range asked, with
    the same total, the same validator and the right end, or a 416 that says the file is all here.
    Anything else from a range request starts the file over (a 200 already is the whole file).
    """
    headers = {"Range": f"bytes={offset}-", "If-Range": str(state.validator)} if offset else {}
    response = open_url(http, url, auth, state.cookies, headers)
    status = response.status_code
    if not offset:
        if status == HTTPStatus.PARTIAL_CONTENT:
            response.close()
            raise retryable("server sent part of the file when asked for all of it")
        return response, 0
    if status == HTTPStatus.PARTIAL_CONTENT and _continues(response, offset, state):
        return response, offset
    if status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE and _all_here(response, offset, state):
        return response, offset
    if status in (HTTPStatus.PARTIAL_CONTENT, HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE):
        response.close()
        return _request(http, url, auth, state, 0)
    return response, 0


def _continues(response: requests.Response, offset: int, state: FileState) -> bool:
    """True when a 206 is the rest of the same file: the range asked for, to its end, same total and
    validator (a server ignoring If-Range sends another version's bytes under a 206)."""
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if not match:
        return False
    start, end = int(match.group(1)), int(match.group(2))
    declared = None if match.group(3) == "*" else int(match.group(3))
    if start != offset or (state.total is not None and declared != state.total):
        return False
    if declared is not None and end != declared - 1:
        return False
    length = response.headers.get("Content-Length")
    if length is not None and (not length.isdigit() or int(length) != end - start + 1):
        return False
    return validator(response) == state.validator


def _all_here(response: requests.Response, offset: int, state: FileState) -> bool:
    """True when a 416 says the file is exactly the `offset` bytes we have."""
    match = _UNSATISFIED_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    return match is not None and int(match.group(1)) == offset and state.total in (None, offset)


def _declared_total(response: requests.Response) -> int | None:
    """The full size of the file from Content-Range (206) or Content-Length (200), if it is believable."""
    if response.status_code == HTTPStatus.PARTIAL_CONTENT:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        text = match.group(3) if match else "*"
    else:
        text = response.headers.get("Content-Length", "").strip()
    if not text.isdigit():
        return None
    total = int(text)
    if total > MAX_FILE_BYTES:
        raise permanent(f"server declared a size of {text} bytes, more than any file Parafetch accepts")
    return total


def _new_part(state: FileState, response: requests.Response, total: int | None, reserve: Reserve) -> PartFile:
    """A new, empty `.part`: at the path already reserved for the job (whatever is there now is not the
    part it wrote), else at a name reserved in the store first (one that another file took meanwhile is
    given up and the next one reserved)."""
    if state.part_path is not None:
        return PartFile.recreate(state.part_path)
    wanted = choose_name(response.headers.get("Content-Disposition"), response.url)
    for _ in range(NAME_TRIES):
        name, part_path = reserve(wanted, total, validator(response))
        try:
            part = PartFile.create(part_path)
        except FileExistsError:
            continue
        state.name, state.part_path = name, part_path
        return part
    raise permanent(f"no free name for {wanted} in the destination folder")


def _receive(
    job_id: int,
    state: FileState,
    part: PartFile,
    response: requests.Response,
    offset: int,
    digest: hashlib._Hash,
    stop: StopCheck,
    emit: Emit,
) -> int:
    """Stream the body into the part from `offset`; returns the bytes written (durable up to the last
    checkpoint: the final fsync is the engine's, once the file is verified)."""
    pace = _Pace(offset)
    digester = Digester(digest, part.fd, offset, lambda exc: disk_error(exc, "saving data to disk"))
    small = state.total is not None and state.total - offset <= BUFFER
    store: _Direct | _Gathered = _Direct(part, digester) if small else _Gathered(part, digester)

    def report() -> None:  # after store.flush(): the bytes reported are on their way to disk
        emit(Progress(job_id, pace.size, pace.arrived, *digester.checkpointed))

    try:
        while True:
            action = stop()
            if action is StopAction.CANCEL:
                digester.close()
                part.discard()
                state.forget_part()
                raise Stopped(action)
            if action:
                store.flush()
                digester.sync_all(pace.size)
                report()
                raise Stopped(action)
            try:
                chunk = response.raw.read1(CHUNK, decode_content=False)
            except _NETWORK_ERRORS as exc:
                store.flush()
                digester.sync_all(pace.size)
                report()
                raise retryable(_lost_message(exc, pace.size, state.total)) from exc
            if not chunk:
                break
            store.add(chunk)
            pace.size += len(chunk)
            if pace.report_due():
                store.flush()
                if pace.checkpoint_due():
                    digester.checkpoint(pace.size)
                report()
                pace.check_speed()
        store.flush()
        digester.finish()
    finally:
        digester.close()
        if part.fd >= 0:
            state.durable, state.durable_sha256 = digester.checkpointed
    return pace.size  # (no report: the worker's JobFinished says how many bytes came)


class _Direct:
    """A small file's chunks: written and hashed as they come."""

    def __init__(self, part: PartFile, digester: Digester) -> None:
        self._part, self._digester = part, digester

    def add(self, chunk: bytes) -> None:
        self._part.write(chunk)
        self._digester.add(chunk)

    def flush(self) -> None:
        pass


class _Gathered:
    """A large file's chunks, gathered in reused BUFFER-sized buffers: each is written and hashed whole,
    and filled again once the digester has hashed it (no fresh memory per read, few digester hand-offs)."""

    def __init__(self, part: PartFile, digester: Digester) -> None:
        self._part, self._digester = part, digester
        self._free: list[bytearray] = []  # buffers the digester is done with (it appends from its thread)
        self._buffer = bytearray(BUFFER)
        self._filled = 0

    def add(self, chunk: bytes) -> None:
        if self._filled + len(chunk) > BUFFER:
            self.flush()
        end = self._filled + len(chunk)
        self._buffer[self._filled:end] = chunk
        self._filled = end

    def flush(self) -> None:
        """Write and hash what is gathered (call before the bytes so far must be on their way to disk)."""
        if not self._filled:
            return
        buffer, view = self._buffer, memoryview(self._buffer)[: self._filled]
        self._part.write(view)
        self._digester.add(view, lambda: self._free.append(buffer))
        self._buffer = self._free.pop() if self._free else bytearray(BUFFER)
        self._filled = 0


class _Pace:
    """When to report progress, when to fsync a checkpoint, and whether the server has become too slow."""

    def __init__(self, offset: int) -> None:
        now = time.monotonic()
        self.size = self._window_size = offset
        self._last_report = self._last_sync = self._window_start = self.arrived = now

    def report_due(self) -> bool:
        """True when the bytes so far should be reported; they arrived by `arrived` (now)."""
        now = self.arrived = time.monotonic()
        if now - self._last_report < PROGRESS_EVERY:
            return False
        self._last_report = now
        return True

    def checkpoint_due(self) -> bool:
        if self._last_report - self._last_sync < CHECKPOINT_EVERY:
            return False
        self._last_sync = self._last_report
        return True

    def check_speed(self) -> None:
        elapsed = self._last_report - self._window_start
        if elapsed < LOW_SPEED_TIME:
            return
        rate = (self.size - self._window_size) / elapsed
        if rate < LOW_SPEED_LIMIT:
            raise retryable(
                f"server too slow: {human_bytes(rate)}/s for {elapsed:.0f} s "
                f"(below {human_bytes(LOW_SPEED_LIMIT)}/s)"
            )
        self._window_start, self._window_size = self._last_report, self.size


def _lost_message(exc: BaseException, size: int, total: int | None) -> str:
    of = f" of {human_bytes(total)}" if total else ""
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return f"server stopped sending after {human_bytes(size)}{of} (no data for {READ_TIMEOUT:.0f} s)"
    if "IncompleteRead" in str(exc) or "prematurely" in str(exc):
        return f"connection closed early: received {human_bytes(size)}{of}"
    return f"connection lost after {human_bytes(size)}{of}"


def _verified(
    task: Task, state: FileState, part: PartFile, size: int, digest: hashlib._Hash
) -> Fetched:
    """The file as received, if it is the one expected (a checksum that does not match removes it)."""
    assert state.name is not None
    actual = digest.hexdigest()
    if task.sha256_expected and actual != task.sha256_expected.lower():
        part.discard()
        state.forget_part()
        raise permanent(
            f"checksum mismatch: expected sha256 {task.sha256_expected[:12]}…, got {actual[:12]}…"
        )
    return Fetched(size, actual)
