"""Jobs, their states, and the one guarded function that moves a job from one state to another."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class JobState(enum.Enum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    __hash__ = object.__hash__  # members are singletons; Enum's own hash (of the name) runs in Python, and
    # the engine hashes states dozens of times per file (the tallies are keyed by them)

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


_ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.PAUSED, JobState.CANCELLED}),
    JobState.RUNNING: frozenset(
        {JobState.QUEUED, JobState.PAUSED, JobState.DONE, JobState.FAILED, JobState.CANCELLED}
    ),
    JobState.PAUSED: frozenset({JobState.QUEUED, JobState.CANCELLED}),
    JobState.DONE: frozenset(),
    JobState.FAILED: frozenset({JobState.QUEUED}),
    JobState.CANCELLED: frozenset({JobState.QUEUED}),
}


class StopAction(enum.IntEnum):
    """What a person asks of a running download: keep its part to resume later, or drop it."""

    PAUSE = 1
    CANCEL = 2


class Outcome(enum.Enum):
    """How a worker's turn with a job ended."""

    DONE = "done"
    FAILED = "failed"
    PAUSED = "paused"
    CANCELLED = "cancelled"

    @classmethod
    def of_stop(cls, action: StopAction) -> Outcome:
        return cls.CANCELLED if action is StopAction.CANCEL else cls.PAUSED

    @property
    def state(self) -> JobState:
        """The state a job takes when its worker ends this way (unless the session decided otherwise)."""
        return JobState(self.value)


class IllegalTransition(RuntimeError):
    """A state change that the job's life does not allow (a bug in the caller)."""


def can_move(current: JobState, new: JobState) -> bool:
    """True when a job in `current` may move to `new`."""
    return new in _ALLOWED[current]


@dataclass
class Job:
    """One URL to fetch into one folder, and everything known about it so far."""

    url: str
    dest_dir: str
    sha256_expected: str | None = None
    priority: int = 0
    id: int = 0  # given by the session (from the store's ids when it has one)
    state: JobState = JobState.QUEUED
    name: str | None = None
    part_path: str | None = None
    path: str | None = None
    bytes_done: int = 0
    durable_bytes: int = 0
    total: int | None = None
    speed: float = 0.0
    attempts: int = 0
    error: str | None = None
    sha256: str | None = None
    worker_pid: int | None = None
    worker_thread: str | None = None
    validator: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    next_attempt_at: float | None = None
    resolved: bool = False  # a failed job the person has dealt with: off the Failed list, kept in history
    part_sha256: str | None = None  # SHA-256 of the part's durable bytes: what a resume must find there
    credentials: str | None = field(default=None, repr=False)  # the URL's user-info (`url` has it masked)

    def move_to(self, new: JobState) -> None:
        """Change state, refusing any change the life of a job does not allow."""
        if new is self.state:
            return
        if not can_move(self.state, new):
            raise IllegalTransition(f"job {self.id}: {self.state.value} -> {new.value}")
        self.state = new

    @property
    def eta(self) -> float | None:
        """Seconds left at the current speed, when that can be known."""
        if self.state is not JobState.RUNNING or not self.total or self.speed <= 0:
            return None
        return max(self.total - self.bytes_done, 0) / self.speed

    @property
    def worker(self) -> str:
        """Who runs it, as 'pid / thread name'."""
        if self.worker_pid is None:
            return ""
        return f"{self.worker_pid} / {self.worker_thread or '?'}"


class JobView(Job):
    """A job as it was when a front end asked: a copy that cannot be changed (the engine's own record
    changes only on the engine loop's thread)."""

    @classmethod
    def of(cls, job: Job, keep_credentials: bool = True) -> JobView:
        """A view of `job` (without its login when it leaves the process); several times quicker than
        `dataclasses.replace`."""
        view: JobView = object.__new__(cls)
        view.__dict__.update(job.__dict__)
        if not keep_credentials:
            view.__dict__["credentials"] = None
        return view

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a view of job {self.id} cannot be changed (tried to set {name})")
