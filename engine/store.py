"""The persistent queue: jobs, durable offsets and error history in SQLite, reconciled with the disk."""

from __future__ import annotations

import hashlib
import operator
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
from engine.ownership import FolderInUse, FolderLock
from engine.partfile import discard

DATA_DIR_ENV = "PARAFETCH_DATA_DIR"
DB_NAME = "jobs.sqlite3"
SCHEMA_VERSION = 2
BUSY_TIMEOUT = 10.0  # seconds SQLite waits on its own locks (one process owns the folder: FolderLock)

_SCHEMA_1 = (
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
_SCHEMA_2 = (
    # The SHA-256 of a `.part`'s durable bytes: a resume trusts the file only if it still holds them.
    "ALTER TABLE jobs ADD COLUMN part_sha256 TEXT",
    # The user-info of URLs that carry one, apart from the queue's columns (jobs.url has it masked).
    """CREATE TABLE IF NOT EXISTS credentials (
        job_id INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
        userinfo TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)
_MIGRATIONS = {1: _SCHEMA_1, 2: _SCHEMA_2}

# Job fields kept across runs; speed, worker, started_at and next_attempt_at belong to one run only.
_FIELDS = (
    "id", "url", "dest_dir", "name", "part_path", "path", "state", "bytes_done", "total", "validator",
    "sha256_expected", "sha256", "priority", "attempts", "error", "resolved", "finished_at", "part_sha256",
)  # fmt: skip
_COLUMNS = ", ".join(_FIELDS)
_MARKS = ", ".join(["?"] * len(_FIELDS))
_INSERT = f"INSERT INTO jobs ({_COLUMNS}, seq, added_at) VALUES ({_MARKS}, ?, ?)"
_UPSERT = (
    f"INSERT INTO jobs ({_COLUMNS}, seq, added_at) VALUES ({_MARKS}, "
    "(SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), ?) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _FIELDS[1:])
)
_SAVE_CREDENTIALS = "INSERT OR REPLACE INTO credentials (job_id, userinfo) VALUES (?, ?)"
_SELECT = (
    "SELECT " + ", ".join(f"jobs.{name}" for name in _FIELDS) + ", credentials.userinfo FROM jobs "
    "LEFT JOIN credentials ON credentials.job_id = jobs.id"
)
_ORDER = " ORDER BY priority DESC, seq"


ErrorRecord = tuple[int, float, int, str]  # (job id, wall-clock time, attempt, message)


class StoreError(RuntimeError):
    """The store cannot be used as it is (made by a newer Parafetch, or owned by another process)."""


class StoreBusy(StoreError):
    """Another Parafetch owns the data folder."""


def default_data_dir() -> Path:
    """Where Parafetch keeps its data: $PARAFETCH_DATA_DIR, else the platform's user data folder."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("Parafetch", appauthor=False))


_ROW = operator.attrgetter(*_FIELDS)
_STATE, _BYTES = _FIELDS.index("state"), _FIELDS.index("bytes_done")


def _values(job: Job) -> tuple[object, ...]:
    """A job as a row; an unfinished job's offset is only what is fsynced (durable_bytes)."""
    row = list(_ROW(job))
    row[_STATE] = job.state.value
    row[_BYTES] = job.bytes_done if job.state.finished else job.durable_bytes
    return tuple(row)


def _job(row: tuple[Any, ...]) -> Job:
    fields = dict(zip(_FIELDS, row[:-1], strict=True))
    fields["state"] = JobState(fields["state"])
    fields["resolved"] = bool(fields["resolved"])
    return Job(**fields, durable_bytes=fields["bytes_done"], credentials=row[-1])


class JobStore:
    """All jobs in one SQLite file; one connection behind a lock, so any thread may use it.

    Opening a store makes this process the data folder's one owner until `close` (another process that
    tries raises StoreBusy, which names the owner). The folder and its files are for this user only.
    """

    def __init__(self, data_dir: Path | str | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = self.data_dir / DB_NAME
        try:
            self._owner = FolderLock(self.data_dir)
        except FolderInUse as exc:
            raise StoreBusy(str(exc)) from None
        self._lock = threading.RLock()
        try:
            old_umask = os.umask(0o077)  # the database, its WAL and shared memory: readable by this user only
            try:
                self._conn = sqlite3.connect(
                    self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
                )
                self._conn.execute("PRAGMA journal_mode=WAL")
            finally:
                os.umask(old_umask)
        except BaseException:
            self._owner.release()
            raise
        try:
            # FULL: a committed offset survives a power cut, not only a crash of this process.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self._conn.close()
            self._owner.release()
            raise

    def _migrate(self) -> None:
        with self._transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was made by a newer Parafetch (schema {version})")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    conn.execute(statement)
            if version < SCHEMA_VERSION:
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
        """Close the database and give up the folder; calling it twice is harmless."""
        with self._lock:
            self._conn.close()
            self._owner.release()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writing

    def reserve_ids(self, count: int) -> range:
        """`count` job ids that this store has never handed out and never will again."""
        with self._transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'next_id'").fetchone()
            highest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM jobs").fetchone()[0]
            start = max(row[0] if row else 1, highest + 1)
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_id', ?)", (start + count,)
            )
        return range(start, start + count)

    def add(self, jobs: Iterable[Job]) -> None:
        """Store new jobs after all the others, keeping their ids (a stored id raises IntegrityError)."""
        now = time.time()
        jobs = list(jobs)
        with self._transaction() as conn:
            start = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            conn.executemany(_INSERT, ((*_values(job), start + i, now) for i, job in enumerate(jobs)))
            self._save_credentials(conn, jobs)

    def save(self, job: Job) -> None:
        """Insert or update every stored field of a job (its place in the order is kept)."""
        self.save_many((job,))

    def save_many(self, jobs: Iterable[Job], errors: Iterable[ErrorRecord] = ()) -> None:
        """`save` for several jobs, and failed attempts of theirs for the error history: all or none."""
        now = time.time()
        jobs = list(jobs)
        with self._transaction() as conn:
            conn.executemany(_UPSERT, ((*_values(job), now) for job in jobs))
            self._save_credentials(conn, jobs)
            conn.executemany("INSERT INTO errors (job_id, at, attempt, message) VALUES (?, ?, ?, ?)", errors)

    @staticmethod
    def _save_credentials(conn: sqlite3.Connection, jobs: list[Job]) -> None:
        conn.executemany(_SAVE_CREDENTIALS, ((j.id, j.credentials) for j in jobs if j.credentials))

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

    def names_held(self, dest_dir: str) -> set[str]:
        """Final names that unfinished jobs into this folder have reserved (their files may not exist yet)."""
        rows = self._execute(
            "SELECT name FROM jobs WHERE dest_dir = ? AND name IS NOT NULL AND state IN (?, ?, ?)",
            (dest_dir, JobState.QUEUED.value, JobState.RUNNING.value, JobState.PAUSED.value),
        )
        return {str(row[0]) for row in rows}

    def errors(self, job_id: int) -> list[tuple[float, int, str]]:
        """A job's error history, oldest first: (wall-clock time, attempt, message)."""
        rows = self._execute(
            "SELECT at, attempt, message FROM errors WHERE job_id = ? ORDER BY rowid", (job_id,)
        )
        return [(float(at), int(attempt), str(message)) for at, attempt, message in rows]

    # -- start-up

    def reconcile(self) -> list[Job]:
        """Make the stored jobs agree with the disk after a stop or a crash; returns them in queue order.

        Every `.part` and final file the store names is accounted for. A job left running is queued again.
        A job whose final file is there although its `.part` is not (or is that same file: a crash came
        between the link and the unlink) was finished just before the stop: it is done, not fetched
        again. A `.part` is kept for the transfer to check before it resumes (it trusts only the bytes
        whose SHA-256 it recorded); one whose job no longer wants it (cancelled) is removed. Done and
        failed jobs are left alone.
        """
        with self._lock:
            changed = [job for job in self.load() if _settle(job)]
            if changed:
                self.save_many(changed)
            return self.load()


def _settle(job: Job) -> bool:
    """Bring one job in line with its files; True when anything about it changed."""
    before = (job.state, job.bytes_done, job.path, job.part_path)
    if job.state is JobState.RUNNING:
        job.state = JobState.QUEUED
    if job.state in (JobState.QUEUED, JobState.PAUSED):
        if not _finished_on_disk(job) and job.part_path and not os.path.lexists(job.part_path):
            job.bytes_done = job.durable_bytes = 0
            job.part_sha256 = None
    elif job.state is JobState.CANCELLED and job.part_path:
        discard(job.part_path)
        job.part_path, job.bytes_done, job.durable_bytes, job.part_sha256 = None, 0, 0, None
    return (job.state, job.bytes_done, job.path, job.part_path) != before


def _finished_on_disk(job: Job) -> bool:
    """Mark done a job whose `.part` became its final file before the store heard of it: the final name
    it reserved holds a regular file of the declared size (and checksum, when one is expected), and the
    `.part` is gone or is that very file."""
    if not (job.part_path and job.name):
        return False
    final = Path(job.dest_dir) / job.name
    try:
        info = os.lstat(final)
        if not stat.S_ISREG(info.st_mode) or (job.total is not None and info.st_size != job.total):
            return False
        linked = os.path.lexists(job.part_path)
        if linked and (os.path.islink(job.part_path) or not os.path.samefile(job.part_path, final)):
            return False
        digest = _sha256(final)
        if job.sha256_expected and digest != job.sha256_expected.lower():
            return False
        if linked:
            os.unlink(job.part_path)
    except OSError:
        return False
    job.state, job.path, job.finished_at = JobState.DONE, str(final), info.st_mtime
    job.bytes_done = job.durable_bytes = info.st_size
    job.sha256, job.error, job.part_path, job.part_sha256 = digest, None, None, None
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
