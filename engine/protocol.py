"""The engine's wire protocol: commands down to the engine host, snapshots and notices up (all picklable)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.jobs import Job
from engine.monitor import MonitorSample
from engine.session import SessionStats
from engine.sources import UrlEntry

# ---- commands: what a front end asks of the engine -------------------------------------------------------


@dataclass(frozen=True)
class Add:
    """Queue URLs for a folder (a known URL is queued again, as Session.add says)."""

    entries: tuple[UrlEntry, ...]
    dest_dir: str
    priority: int = 0


@dataclass(frozen=True)
class Start:
    """Begin (or keep) running queued jobs."""


@dataclass(frozen=True)
class Pause:
    job_id: int | None = None  # None: every queued and running job


@dataclass(frozen=True)
class Resume:
    job_id: int | None = None


@dataclass(frozen=True)
class Cancel:
    job_id: int | None = None


@dataclass(frozen=True)
class RetryFailed:
    job_id: int | None = None


@dataclass(frozen=True)
class MarkResolved:
    job_id: int | None = None


@dataclass(frozen=True)
class Remove:
    job_id: int


@dataclass(frozen=True)
class ClearFinished:
    """Forget every done, failed and cancelled job."""


@dataclass(frozen=True)
class SetPriority:
    job_id: int
    priority: int


@dataclass(frozen=True)
class SetMode:
    mode: str
    workers: int | None = None


@dataclass(frozen=True)
class SetWorkers:
    workers: int


@dataclass(frozen=True)
class AskHistory:
    """Ask for a job's failed attempts; answered with a History notice."""

    job_id: int


@dataclass(frozen=True)
class Shutdown:
    """Stop every worker, save the queue and end the host (running jobs resume next time)."""

    timeout: float = 5.0


Command = (
    Add | Start | Pause | Resume | Cancel | RetryFailed | MarkResolved | Remove | ClearFinished | SetPriority
    | SetMode | SetWorkers | AskHistory | Shutdown
)

# ---- what the engine tells its front ends ----------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What changed since the snapshot before (`seq` counts them): copies of changed jobs (credentials left
    out), ids removed, the totals, and the monitor's newest sample when there is a new one."""

    seq: int
    jobs: tuple[Job, ...]
    removed: tuple[int, ...]
    stats: SessionStats
    sample: MonitorSample | None = None


@dataclass(frozen=True)
class History:
    """A job's failed attempts, oldest first: (wall-clock time, attempt, message)."""

    job_id: int
    entries: tuple[tuple[float, int, str], ...]


@dataclass(frozen=True)
class Refused:
    """A command the engine could not carry out, and why, in words for the person."""

    message: str


@dataclass(frozen=True)
class Note:
    """Something the person should know that is not about one job (the queue cannot be kept, say)."""

    level: str  # "info", "warning" or "error"
    message: str


@dataclass(frozen=True)
class Stopped:
    """The host has saved everything and ends now; `reason` says why when nobody asked it to."""

    reason: str | None = None
    exit_code: int = 0


Notice = Snapshot | History | Refused | Note | Stopped
