"""Fetching one URL into one file: streaming, resume, redirects, checks and an atomic finish."""

from __future__ import annotations

import contextlib
import email.utils
import errno
import hashlib
import os
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO

import requests
import urllib3

from engine.digester import Digester
from engine.errors import TransferError, permanent, retryable
from engine.events import Event, Progress, Resolved, Task
from engine.naming import choose_name, commit_part, reserve_part

CHUNK = 1 << 20
PROGRESS_EVERY = 0.1
CHECKPOINT_EVERY = 1.0  # seconds between fsyncs: at most this much data is fetched twice after a crash
LOW_SPEED_LIMIT = 1024  # bytes per second...
LOW_SPEED_TIME = 60.0  # ...sustained this long means the server is too slow: retry
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
MAX_REDIRECTS = 10
USER_AGENT = "Parafetch/0.1"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)")
_NETWORK_ERRORS = (
    urllib3.exceptions.HTTPError,
    requests.exceptions.RequestException,
    ConnectionError,
    TimeoutError,
)

StopCheck = Callable[[], str | None]
Emit = Callable[[Event], None]


class Stopped(Exception):
    """The person asked this transfer to stop: action is 'pause' or 'cancel'."""

    def __init__(self, action: str) -> None:
        super().__init__(action)
        self.action = action


@dataclass
class FileState:
    """What is known about a job's file across attempts: its name, partial data and validator."""

    name: str | None = None
    part_path: str | None = None
    validator: str | None = None
    total: int | None = None

    @classmethod
    def of(cls, task: Task) -> FileState:
        return cls(task.name, task.part_path, task.validator)


@dataclass(frozen=True)
class Fetched:
    """A complete, verified file under its final name."""

    path: str
    size: int
    sha256: str


def new_http_session() -> requests.Session:
    """An HTTP session for one worker: identity encoding, bounded redirects, keep-alive."""
    http = requests.Session()
    http.max_redirects = MAX_REDIRECTS
    http.headers.update({"Accept-Encoding": "identity", "User-Agent": USER_AGENT})
    http.trust_env = environment_has_http_settings()
    return http


def environment_has_http_settings() -> bool:
    """True when proxy or CA-bundle variables or a .netrc file are there for requests to honour.

    requests re-reads them on every request when `trust_env` is set, which costs about 1 ms per file on
    a list of small files; with nothing to read, that time is saved.
    """
    if urllib.request.getproxies_environment():
        return True
    if any(os.environ.get(name) for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC")):
        return True
    home = Path.home()
    return any((home / name).exists() for name in (".netrc", "_netrc"))


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _status_error(response: requests.Response) -> TransferError:
    code = response.status_code
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = response.reason or "error"
    message = f"server answered HTTP {code} {phrase}"
    if code == 429 or code >= 500:
        return retryable(message, retry_after_seconds(response.headers.get("Retry-After")))
    return permanent(message)


def _request_error(exc: Exception, url: str) -> TransferError:
    """Translate what requests raises before a response into a kind and a sentence."""
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return permanent(f"more than {MAX_REDIRECTS} redirects")
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return permanent("redirected to an unsupported scheme (only http and https are followed)")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return permanent(f"malformed URL: {exc}")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return retryable(f"timed out connecting to {urllib3.util.parse_url(url).host}")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return retryable(f"server did not answer within {READ_TIMEOUT:.0f} s")
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc).lower()
        if "more than 100 headers" in text or "line too long" in text or "linetoolong" in text:
            return permanent("server sent an oversized header block (refused)")
        if "refused" in text:
            return retryable(f"connection refused by {urllib3.util.parse_url(url).host}")
        if "resolve" in text or "name or service" in text:
            return retryable(f"could not find host {urllib3.util.parse_url(url).host}")
        return retryable("connection failed or was reset")
    return retryable(f"network error: {exc}")


def disk_error(exc: OSError, what: str) -> TransferError:
    """A file-system failure as a permanent error a person can act on."""
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", -1):
        return permanent(f"disk full while {what}")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return permanent(f"permission denied while {what}")
    if exc.errno == errno.EROFS:
        return permanent(f"read-only file system while {what}")
    if exc.errno == errno.EFBIG:
        return permanent(f"file too large for this file system while {what}")
    if exc.errno == errno.ENOENT:
        return permanent(f"the destination folder is gone (deleted or unmounted?) while {what}")
    return permanent(f"{exc.strerror or exc} while {what}")


def _validator(response: requests.Response) -> str | None:
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")


def _part_size(state: FileState) -> int:
    """Bytes we may resume from: only with a validator, so a changed file is never spliced."""
    if not state.part_path or not state.validator:
        return 0
    try:
        return os.stat(state.part_path, follow_symlinks=False).st_size
    except FileNotFoundError:
        return 0


def _open(http: requests.Session, url: str, offset: int, validator: str | None) -> requests.Response:
    headers = {}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator:
            headers["If-Range"] = validator
    try:
        return http.get(url, headers=headers, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
    except requests.exceptions.RequestException as exc:
        raise _request_error(exc, url) from exc


def _hash_prefix(path: str, length: int) -> hashlib._Hash:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while length > 0:
            block = handle.read(min(CHUNK, length))
            if not block:
                break
            digest.update(block)
            length -= len(block)
    return digest


def fetch(task: Task, state: FileState, http: requests.Session, stop: StopCheck, emit: Emit) -> Fetched:
    """One attempt at a job: resume what `state` allows, stream to `.part`, verify, rename."""
    folder = Path(task.dest_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise disk_error(exc, f"creating folder {folder}") from exc
    offset = _part_size(state)
    response = _open(http, task.url, offset, state.validator)
    with response:
        if offset and response.status_code == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE:
            match = _UNSATISFIED_RANGE.match(response.headers.get("Content-Range", ""))
            if match and int(match.group(1)) == offset and state.total in (None, offset):
                return _finish(task, state, offset, _hash_prefix(str(state.part_path), offset), folder)
            offset = 0  # the range was refused for a reason we cannot trust: start over
            response.close()
            response = _open(http, task.url, 0, None)
        if response.status_code >= 400:
            raise _status_error(response)
        total = _declared_total(response, offset)
        if response.status_code != HTTPStatus.PARTIAL_CONTENT:
            offset = 0  # a 200 to a range request means the server restarted the body
        if state.part_path is None or state.name is None:
            wanted = choose_name(response.headers.get("Content-Disposition"), response.url)
            try:
                state.name, part = reserve_part(folder, wanted)
            except OSError as exc:
                raise disk_error(exc, f"creating {wanted}.part in {folder}") from exc
            state.part_path = str(part)
        state.total, state.validator = total, _validator(response)
        emit(Resolved(task.job_id, state.name, state.part_path, total, state.validator, offset))
        digest = _hash_prefix(state.part_path, offset) if offset else hashlib.sha256()
        size = _receive(task, state, response, offset, digest, stop, emit)
    if total is not None and size != total:
        raise retryable(f"connection closed early: received {human_bytes(size)} of {human_bytes(total)}")
    return _finish(task, state, size, digest, folder)


def _declared_total(response: requests.Response, offset: int) -> int | None:
    """The full size of the file from Content-Range (206) or Content-Length (200)."""
    if response.status_code == HTTPStatus.PARTIAL_CONTENT:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != offset:
            raise retryable("server sent a different range than asked for")
        return None if match.group(3) == "*" else int(match.group(3))
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


_WRITE_FLAGS = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def _receive(
    task: Task,
    state: FileState,
    response: requests.Response,
    offset: int,
    digest: hashlib._Hash,
    stop: StopCheck,
    emit: Emit,
) -> int:
    """Stream the body into the part file from `offset`; returns bytes on disk."""
    assert state.part_path is not None
    try:
        fd = os.open(state.part_path, _WRITE_FLAGS | os.O_CREAT, 0o644)
        os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
    except OSError as exc:
        raise disk_error(exc, f"opening {state.part_path}") from exc
    pace = _Pace(offset)
    with os.fdopen(fd, "wb", buffering=0) as out:
        digester = Digester(digest, fd, offset, lambda exc: disk_error(exc, "saving data to disk"))
        try:
            while True:
                action = stop()
                if action:
                    digester.close()
                    _stop(out, state, action, task.job_id, pace.size, emit)
                try:
                    chunk = response.raw.read1(CHUNK, decode_content=False)
                except _NETWORK_ERRORS as exc:
                    digester.close()
                    _sync(out)
                    emit(Progress(task.job_id, pace.size, pace.size))
                    raise retryable(_lost_message(exc, pace.size, state.total)) from exc
                if not chunk:
                    break
                _write(out, chunk)
                digester.add(chunk)
                pace.size += len(chunk)
                if pace.report_due():
                    if pace.checkpoint_due():
                        digester.checkpoint(pace.size)
                    emit(Progress(task.job_id, pace.size, digester.durable))
                    pace.check_speed()
            digester.finish()
        finally:
            digester.close()
        _sync(out)
    emit(Progress(task.job_id, pace.size, pace.size))
    return pace.size


class _Pace:
    """When to report progress, when to fsync a checkpoint, and whether the server has become too slow."""

    def __init__(self, offset: int) -> None:
        now = time.monotonic()
        self.size = self._window_size = offset
        self._last_report = self._last_sync = self._window_start = now

    def report_due(self) -> bool:
        now = time.monotonic()
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


def _write(out: BinaryIO, chunk: bytes) -> None:
    try:
        view = memoryview(chunk)
        while view:
            written = out.write(view)
            view = view[written or 0 :]
    except OSError as exc:
        raise disk_error(exc, "writing") from exc


def _sync(out: BinaryIO) -> None:
    try:
        os.fsync(out.fileno())
    except OSError as exc:
        raise disk_error(exc, "saving data to disk") from exc


def _stop(out: BinaryIO, state: FileState, action: str, job_id: int, size: int, emit: Emit) -> None:
    """Leave the part file ready to resume (pause) or remove it (cancel), then unwind."""
    if action == "cancel":
        out.close()
        discard(state.part_path)
    else:
        _sync(out)
        emit(Progress(job_id, size, size))
    raise Stopped(action)


def discard(part_path: str | None) -> None:
    """Remove a partial file if it is there."""
    if part_path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part_path)


def _finish(task: Task, state: FileState, size: int, digest: hashlib._Hash, folder: Path) -> Fetched:
    """Check the checksum, then give the part its final name atomically."""
    assert state.part_path is not None and state.name is not None
    actual = digest.hexdigest()
    if task.sha256_expected and actual != task.sha256_expected.lower():
        discard(state.part_path)
        state.part_path = None
        raise permanent(
            f"checksum mismatch: expected sha256 {task.sha256_expected[:12]}…, got {actual[:12]}…"
        )
    try:
        final = commit_part(Path(state.part_path), folder, state.name)
        _sync_folder(folder)
    except OSError as exc:
        raise disk_error(exc, "renaming the finished file") from exc
    return Fetched(str(final), size, actual)


def _sync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
