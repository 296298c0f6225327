"""The persistent queue: jobs, durable offsets and error history in SQLite, reconciled with the disk."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs

from engine.jobs import Job, JobState

DATA_DIR_ENV = "PARAFETCH_DATA_DIR"
DB_NAME = "jobs.sqlite3"
SCHEMA_VERSION = 1
BUSY_TIMEOUT = 10.0  # seconds to wait for another process (the window and `get`) holding the write lock

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS jobs (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,
        dest_dir TEXT NOT NULL,
        name TEXT,
        part_path TEXT,
        path TEXT,
        state TEXT NOT NULL,
        bytes_done INTEGER NOT NULL DEFAULT 0,
        total INTEGER,
        validator TEXT,
        sha256_expected TEXT,
        sha256 TEXT,
        priority INTEGER NOT NULL DEFAULT 0,
        seq INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        resolved INTEGER NOT NULL DEFAULT 0,
        added_at REAL NOT NULL,
        finished_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS jobs_order ON jobs (priority DESC, seq)",
    "CREATE INDEX IF NOT EXISTS jobs_seq ON jobs (seq)",
    "CREATE INDEX IF NOT EXISTS jobs_source ON jobs (url, dest_dir)",
    """CREATE TABLE IF NOT EXISTS errors (
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        at REAL NOT NULL,
        attempt INTEGER NOT NULL,
        message TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS errors_job ON errors (job_id)",
)

# Job fields kept across runs; speed, worker, started_at and next_attempt_at belong to one run only.
_FIELDS = (
    "id", "url", "dest_dir", "name", "part_path", "path", "state", "bytes_done", "total", "validator",
    "sha256_expected", "sha256", "priority", "attempts", "error", "resolved", "finished_at",
)  # fmt: skip
_COLUMNS = ", ".join(_FIELDS)
_MARKS = ", ".join(["?"] * len(_FIELDS))
_INSERT = f"INSERT INTO jobs ({_COLUMNS}, seq, added_at) VALUES ({_MARKS}, ?, ?)"
_UPSERT = (
    f"INSERT INTO jobs ({_COLUMNS}, seq, added_at) VALUES ({_MARKS}, "
    "(SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), ?) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _FIELDS[1:])
)
_SELECT = f"SELECT {_COLUMNS} FROM jobs"
_ORDER = " ORDER BY priority DESC, seq"


class StoreError(RuntimeError):
    """The store cannot be used as it is (made by a newer Parafetch)."""


def default_data_dir() -> Path:
    """Where Parafetch keeps its data: $PARAFETCH_DATA_DIR, else the platform's user data folder."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("Parafetch", appauthor=False))


def _values(job: Job) -> tuple[object, ...]:
    """A job as a row; an unfinished job's offset is only what is fsynced (durable_bytes)."""
    offset = job.bytes_done if job.state.finished else job.durable_bytes
    return tuple(
        job.state.value if name == "state" else offset if name == "bytes_done" else getattr(job, name)
        for name in _FIELDS
    )


def _job(row: tuple[Any, ...]) -> Job:
    fields = dict(zip(_FIELDS, row, strict=True))
    fields["state"] = JobState(fields["state"])
    fields["resolved"] = bool(fields["resolved"])
    return Job(**fields, durable_bytes=fields["bytes_done"])


class JobStore:
    """All jobs in one SQLite file; one connection behind a lock, so any thread may use it."""

    def __init__(self, data_dir: Path | str | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DB_NAME
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed offset survives a power cut, not only a crash of this process.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self) -> None:
        with self._transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was made by a newer Parafetch (schema {version})")
            if version < SCHEMA_VERSION:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once so readers in other processes never deadlock it."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _execute(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- lifetime

    def close(self) -> None:
        """Close the database; calling it twice is harmless."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writing

    def add(self, jobs: Iterable[Job]) -> None:
        """Store new jobs after all the others, keeping their ids (a stored id raises IntegrityError)."""
        now = time.time()
        with self._transaction() as conn:
            start = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            conn.executemany(_INSERT, ((*_values(job), start + i, now) for i, job in enumerate(jobs)))

    def save(self, job: Job) -> None:
        """Insert or update every stored field of a job (its place in the order is kept)."""
        self.save_many((job,))

    def save_many(self, jobs: Iterable[Job]) -> None:
        """`save` for several jobs, all or none."""
        now = time.time()
        with self._transaction() as conn:
            conn.executemany(_UPSERT, ((*_values(job), now) for job in jobs))

    def record_offset(self, job_id: int, bytes_done: int) -> None:
        """Commit how many bytes of a job's `.part` are on disk; the caller has fsynced them first."""
        self._execute("UPDATE jobs SET bytes_done = ? WHERE id = ?", (bytes_done, job_id))

    def set_priority(self, job_id: int, priority: int) -> None:
        """Higher runs first; within one priority, jobs run in the order they were added."""
        self._execute("UPDATE jobs SET priority = ? WHERE id = ?", (priority, job_id))

    def add_error(self, job_id: int, attempt: int, message: str) -> None:
        """Append one failed attempt to a job's error history."""
        self._execute(
            "INSERT INTO errors (job_id, at, attempt, message) VALUES (?, ?, ?, ?)",
            (job_id, time.time(), attempt, message),
        )

    def remove(self, job_id: int) -> None:
        """Forget a job and its error history."""
        self._execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    # -- reading

    def load(self) -> list[Job]:
        """Every job, in the order the queue runs them: priority (higher first), then order added."""
        return [_job(row) for row in self._execute(_SELECT + _ORDER)]

    def get(self, job_id: int) -> Job | None:
        """One job by id."""
        rows = self._execute(_SELECT + " WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def find(self, url: str, dest_dir: str) -> Job | None:
        """The latest job for this URL into this folder, so `get` run again resumes instead of restarting."""
        rows = self._execute(
            _SELECT + " WHERE url = ? AND dest_dir = ? ORDER BY seq DESC LIMIT 1", (url, dest_dir)
        )
        return _job(rows[0]) if rows else None

    def errors(self, job_id: int) -> list[tuple[float, int, str]]:
        """A job's error history, oldest first: (wall-clock time, attempt, message)."""
        rows = self._execute(
            "SELECT at, attempt, message FROM errors WHERE job_id = ? ORDER BY rowid", (job_id,)
        )
        return [(float(at), int(attempt), str(message)) for at, attempt, message in rows]

    def next_id(self) -> int:
        """One more than the highest stored id: seed the session's job ids with at least this."""
        return int(self._execute("SELECT COALESCE(MAX(id), 0) + 1 FROM jobs")[0][0])

    # -- start-up

    def reconcile(self) -> list[Job]:
        """Make the stored jobs agree with the disk after a stop or a crash; returns them in queue order.

        A job left running is queued again. An unfinished job's `.part` is trusted only up to the recorded
        offset: longer is truncated to it, shorter (or missing) lowers the offset to what is there. A job
        whose `.part` is gone but whose final file is complete (its size, and its checksum when one is
        expected) was finished just before the stop, and is marked done. Done, failed and cancelled jobs
        are left alone.
        """
        with self._lock:
            changed = [job for job in self.load() if _settle(job)]
            if changed:
                self.save_many(changed)
            return self.load()


def _settle(job: Job) -> bool:
    """Bring one job in line with its files; True when anything about it changed."""
    before = (job.state, job.bytes_done, job.path)
    if job.state is JobState.RUNNING:
        job.state = JobState.QUEUED
    if job.state in (JobState.QUEUED, JobState.PAUSED) and not _finished_on_disk(job):
        job.bytes_done = job.durable_bytes = _trust_part(job.part_path, job.bytes_done)
    return (job.state, job.bytes_done, job.path) != before


def _trust_part(part_path: str | None, recorded: int) -> int:
    """The offset to resume from: the `.part` cut back to `recorded`, or what it holds when that is less."""
    if not part_path:
        return 0
    try:
        info = os.lstat(part_path)
    except FileNotFoundError:
        return 0
    except OSError:
        return recorded  # cannot look (e.g. the folder is unreachable): change nothing
    if not stat.S_ISREG(info.st_mode):
        return 0  # a symlink or a folder: the transfer refuses it and starts over
    if info.st_size <= recorded:
        return info.st_size
    try:
        fd = os.open(part_path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
        try:
            os.ftruncate(fd, recorded)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # read-only or gone: the next attempt meets the same error and reports it
    return recorded


def _finished_on_disk(job: Job) -> bool:
    """Mark done a job whose `.part` was renamed to its final name before the store heard of it."""
    if not (job.part_path and job.name and job.total is not None) or os.path.lexists(job.part_path):
        return False
    final = Path(job.dest_dir) / job.name
    try:
        if final.is_symlink() or not final.is_file() or final.stat().st_size != job.total:
            return False
        digest = _sha256(final) if job.sha256_expected else None
        mtime = final.stat().st_mtime
    except OSError:
        return False
    if digest is not None and digest != str(job.sha256_expected).lower():
        return False
    job.state, job.path, job.bytes_done, job.finished_at = JobState.DONE, str(final), job.total, mtime
    job.sha256, job.error = digest or job.sha256, None
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
