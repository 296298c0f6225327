"""The engine's wire protocol: commands down to the engine host, snapshots and notices up (all picklable)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.jobs import Job
from engine.monitor import MonitorSample
from engine.sources import UrlEntry
from engine.stage import StageConfig, StageResult, StageStats

# ---- what the engine's state looks like from outside -------------------------------------------------------


@dataclass(frozen=True)
class SessionStats:
    """Counts and totals for a status bar or a summary line."""

    mode: str
    workers: int
    total: int
    queued: int
    running: int
    paused: int
    done: int
    failed: int
    cancelled: int
    bytes_done: int
    speed: float
    held_back: str | None
    worker_pids: frozenset[int]
    broken: str | None = None  # why the engine stopped on its own (its store cannot be written, say)
    stage: StageStats | None = None  # the pipeline's stage, when there is one
    saving: int = 0  # running jobs whose bytes are all in, being made durable and named (no worker)

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.cancelled


@dataclass
class Changes:
    """The jobs changed since a reader's last look (copies, in id order) and the ids removed since.

    `seq` is where this look ends: the reader passes it back next time. Each reader keeps its own, so
    no reader takes changes away from another. `complete` says `jobs` is every job (the reader was so far
    behind that the removals it missed are no longer kept): drop whatever is not in it.
    """

    jobs: list[Job] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    seq: int = 0
    complete: bool = False

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
class SetStage:
    """Put every file downloaded from now on through a stage (SHA-256 check and thumbnail in a pool of
    processes: the pipeline), or through none; a stage switched off first processes what it holds."""

    config: StageConfig | None


@dataclass(frozen=True)
class TakeStageResults:
    """The stage results that came in since the last time they were taken (for the one front end)."""


@dataclass(frozen=True)
class SetWorkers:
    workers: int


@dataclass(frozen=True)
class AskHistory:
    """Ask for a job's failed attempts; answered with a History notice."""

    job_id: int


@dataclass(frozen=True)
class AskLogins:
    """Ask for the logins of the jobs that have one (snapshots leave them out); answered with Logins.
    For a front end that hands the URLs on, as the window does to Compare."""


# ---- questions an in-process front end asks (the window gets snapshots instead) ---------------------------


@dataclass(frozen=True)
class AskChanges:
    """Answered with the Changes since `since` (0: every job)."""

    since: int = 0


@dataclass(frozen=True)
class AskJobs:
    """Answered with copies of every job, in the order they were added."""


@dataclass(frozen=True)
class AskJob:
    """Answered with a copy of one job, or None."""

    job_id: int


@dataclass(frozen=True)
class AskStats:
    """Answered with the SessionStats."""


@dataclass(frozen=True)
class Shutdown:
    """Stop every worker, save the queue and end the host (running jobs resume next time)."""

    timeout: float = 5.0


Command = (
    Add | Start | Pause | Resume | Cancel | RetryFailed | MarkResolved | Remove | ClearFinished | SetPriority
    | SetMode | SetWorkers | SetStage | TakeStageResults | AskHistory | AskLogins | AskChanges | AskJobs
    | AskJob | AskStats | Shutdown
)

# ---- what the engine tells its front ends ----------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What changed since the snapshot before (`seq` counts them): copies of changed jobs (credentials left
    out), ids removed, the totals, the monitor's newest sample when there is a new one, and how many of the
    front end's commands the engine had carried out (so it knows which of its commands the picture shows)."""

    seq: int
    jobs: tuple[Job, ...]
    removed: tuple[int, ...]
    stats: SessionStats
    sample: MonitorSample | None = None
    carried_out: int = 0
    stage_results: tuple[StageResult, ...] = ()  # files the stage has processed since the last snapshot


@dataclass(frozen=True)
class History:
    """A job's failed attempts, oldest first: (wall-clock time, attempt, message)."""

    job_id: int
    entries: tuple[tuple[float, int, str], ...]


@dataclass(frozen=True)
class Logins:
    """Each job's login ("user:password"), by job id, for the jobs that have one."""

    logins: dict[int, str] = field(repr=False)


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


Notice = Snapshot | History | Logins | Refused | Note | Stopped
