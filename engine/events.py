"""The small, picklable records that workers send to the session, and the task a worker is given."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.jobs import Outcome


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a retryable failure is tried again."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to fetch one job, as plain data.

    `url` is the URL as shown (any password masked); `credentials` is the user-info the request needs.
    `durable` bytes of the `.part` were fsynced, and `part_sha256` is their SHA-256: a resume trusts the
    part only when it still holds exactly those bytes. `offered`: the job had no file yet, and `name` and
    `part_path` are the ones its URL gives, reserved at dispatch; a NameGranted with them follows once the
    store holds them. The worker takes them if the server's answer wants that name, else asks for its own.
    """

    job_id: int
    url: str
    dest_dir: str
    sha256_expected: str | None = None
    name: str | None = None
    part_path: str | None = None
    validator: str | None = None
    retry: RetryPolicy = RetryPolicy()
    total: int | None = None
    durable: int = 0
    part_sha256: str | None = None
    credentials: str | None = field(default=None, repr=False)
    offered: bool = False


@dataclass(frozen=True)
class JobStarted:
    """A worker began an attempt at a job."""

    job_id: int
    worker_id: int
    pid: int
    thread: str
    attempt: int


@dataclass(frozen=True)
class Resolved:
    """The server answered: the file's name, where its partial data lives, its size and validator."""

    job_id: int
    name: str
    part_path: str
    total: int | None
    validator: str | None
    offset: int


@dataclass(frozen=True)
class NameRequest:
    """A worker asks for a final name and `.part` path in the job's folder before it creates the file;
    it waits for NameGranted, which comes once the store holds them (a crash never leaves a file the store
    does not know)."""

    job_id: int
    worker_id: int
    wanted: str
    total: int | None
    validator: str | None


@dataclass(frozen=True)
class NameGranted:
    """The session's answer to a NameRequest, or its word that an offered name is recorded: the name and
    part path are in the store; None: do not write."""

    job_id: int
    name: str | None
    part_path: str | None


@dataclass(frozen=True)
class Progress:
    """Bytes written so far for a job and the moment they had arrived (`time.monotonic()`), how many of
    them are fsynced and the SHA-256 of those (at most ~10 reports a second)."""

    job_id: int
    bytes_done: int
    at: float
    durable: int = 0
    durable_sha256: str | None = None


@dataclass(frozen=True)
class Retrying:
    """An attempt failed in a way that may pass; the next one starts after `delay` seconds."""

    job_id: int
    attempt: int
    delay: float
    error: str


@dataclass(frozen=True)
class JobFinished:
    """A worker is done with a job, and how. DONE: all `bytes_done` bytes are in the job's part and match
    `sha256`; the engine makes the part durable and gives it its final name."""

    job_id: int
    worker_id: int
    outcome: Outcome
    attempts: int
    bytes_done: int = 0
    sha256: str | None = None
    error: str | None = None
    part_kept: bool = True  # False: the failure removed the partial file (nothing left to resume)


@dataclass(frozen=True)
class WorkerStarted:
    """A worker thread or process is up."""

    worker_id: int
    pid: int
    thread: str


@dataclass(frozen=True)
class WorkerExited:
    """A worker thread or process has ended; exitcode is None for threads."""

    worker_id: int
    pid: int
    exitcode: int | None


@dataclass(frozen=True)
class HelpersReady:
    """multiprocessing's helper processes run: worker processes may start now."""


Event = (
    JobStarted | Resolved | NameRequest | Progress | Retrying | JobFinished | WorkerStarted | WorkerExited
    | HelpersReady
)
