"""The in-process client: an engine loop on a thread of this process, behind the commands of the wire
protocol (what `get`, `compare` and the engine's tests use; the window talks to a host process instead)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from typing import Any, cast

from engine import protocol
from engine.core import Engine
from engine.events import RetryPolicy
from engine.jobs import Job
from engine.loop import QUERIES, EngineLoop, Request
from engine.protocol import Changes, SessionStats
from engine.sources import UrlEntry
from engine.stage import StageConfig, StageResult
from engine.store import JobStore


class _Waiting:
    """A Reply the calling thread waits for."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: object = None
        self._error: Exception | None = None

    def resolve(self, value: object) -> None:
        self._value = value
        self._done.set()

    def fail(self, error: Exception) -> None:
        self._error = error
        self._done.set()

    def get(self) -> object:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


class Session:
    """Runs jobs in one mode. Every method is safe from any thread, returns once the engine has acted on
    it, and never blocks on the network."""

    def __init__(
        self,
        mode: str = "thread-pool",
        workers: int | None = None,
        retry: RetryPolicy | None = None,
        store: JobStore | None = None,
        restore: bool = False,
        stage: StageConfig | None = None,
    ) -> None:
        """With a store, every job is kept there; `restore` brings back the whole stored queue. With a
        `stage`, each downloaded file goes through it (the pipeline), and `wait` waits for that too."""
        inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._engine = Engine(inbox, mode, workers, retry, store, restore, stage=stage)
        self._stage_results: list[StageResult] = []
        self._loop = EngineLoop(self._engine, inbox, self._turned)
        self._idle = threading.Condition()
        self._settled = self._engine.settled()
        self._seen = 0  # where `changes()` left off
        self._thread = threading.Thread(target=self._loop.run, name="engine", daemon=True)
        self._thread.start()

    def _turned(self, now: float, commands: int) -> None:
        """After each turn of the loop (on its thread): tell `wait` when the run has settled or unsettled,
        or the loop has ended (not every turn: a list of small files makes thousands of turns a second,
        and waking the waiting thread for each cost it the GIL)."""
        settled = self._engine.settled()
        if settled == self._settled and not self._loop.finished:
            return
        with self._idle:
            self._settled = settled
            self._idle.notify_all()

    def _call(self, command: protocol.Command) -> Any:
        reply = _Waiting()
        if self._loop.submit(Request(command, reply)):
            return reply.get()
        if isinstance(command, QUERIES):  # the loop has ended: nothing changes the engine any more
            return self._engine.apply(command)
        return None  # a stopped session carries out nothing

    # ---- commands ----------------------------------------------------------------------------------------

    def add(self, entries: Iterable[UrlEntry], dest_dir: str, priority: int = 0) -> list[int]:
        """Queue URLs for a folder (made if missing); returns their job ids (see Engine._add)."""
        return cast(list[int], self._call(protocol.Add(tuple(entries), dest_dir, priority)) or [])

    def start(self) -> None:
        """Begin (or keep) running queued jobs."""
        self._call(protocol.Start())

    def pause(self, job_id: int | None = None) -> None:
        """Pause one job, or every queued and running job."""
        self._call(protocol.Pause(job_id))

    def resume(self, job_id: int | None = None) -> None:
        """Resume one paused job, or all of them; they continue from their partial file."""
        self._call(protocol.Resume(job_id))

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job, or every job not yet finished; partial files are removed."""
        self._call(protocol.Cancel(job_id))

    def retry_failed(self, job_id: int | None = None) -> None:
        """Queue a failed or cancelled job again (or all of them)."""
        self._call(protocol.RetryFailed(job_id))

    def mark_resolved(self, job_id: int | None = None) -> None:
        """Take a failed job (or all of them) off the Failed list; it stays in the history as failed."""
        self._call(protocol.MarkResolved(job_id))

    def remove(self, job_id: int) -> None:
        """Forget a job; a running one is cancelled first."""
        self._call(protocol.Remove(job_id))

    def clear_finished(self) -> None:
        """Forget every done, failed and cancelled job."""
        self._call(protocol.ClearFinished())

    def set_priority(self, job_id: int, priority: int) -> None:
        """Higher runs first; a queued job moves to its new place at once."""
        self._call(protocol.SetPriority(job_id, priority))

    def set_workers(self, workers: int) -> None:
        """Resize a pool while it runs."""
        self._call(protocol.SetWorkers(workers))

    def set_mode(self, mode: str, workers: int | None = None) -> None:
        """Switch mode; takes effect at once when nothing runs, otherwise raises ValueError."""
        self._call(protocol.SetMode(mode, workers))

    def set_stage(self, stage: StageConfig | None) -> None:
        """Put files downloaded from now on through a stage, or through none (see protocol.SetStage)."""
        self._call(protocol.SetStage(stage))

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every worker and end the session; running jobs go back to the queue, to resume next time."""
        self._call(protocol.Shutdown(timeout))
        self._thread.join(timeout + 5.0)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ---- questions ---------------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._engine.mode

    @property
    def broken(self) -> str | None:
        """Why the session stopped on its own (its store cannot be written, say), or None."""
        return self._engine.broken

    @property
    def stopped(self) -> bool:
        """True once the session's loop has ended (after `shutdown`): it saves nothing more."""
        return not self._thread.is_alive()

    def changes(self) -> Changes:
        """Copies of the jobs changed since the last call, in id order, and the ids removed since then."""
        changes = cast(Changes, self._call(protocol.AskChanges(self._seen)))
        self._seen = changes.seq
        return changes

    def changes_since(self, seq: int) -> Changes:
        """The same for a reader that keeps its own place (`seq` from its last Changes; 0 for all)."""
        return cast(Changes, self._call(protocol.AskChanges(seq)))

    def jobs(self) -> list[Job]:
        """Copies of every job, in the order they were added."""
        return cast(list[Job], self._call(protocol.AskJobs()))

    def job(self, job_id: int) -> Job | None:
        return cast(Job | None, self._call(protocol.AskJob(job_id)))

    def stats(self) -> SessionStats:
        """Counts and totals; costs the running jobs, not all of them."""
        return cast(SessionStats, self._call(protocol.AskStats()))

    def stage_results(self) -> list[StageResult]:
        """What the stage found for each file it has processed so far, in the order it finished them."""
        self._stage_results += cast(list[StageResult], self._call(protocol.TakeStageResults()) or [])
        return list(self._stage_results)

    def error_history(self, job_id: int) -> list[tuple[float, int, str]]:
        """Every failed attempt of a job, oldest first: (wall-clock time, attempt, message)."""
        return list(cast(protocol.History, self._call(protocol.AskHistory(job_id))).entries)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running (or the session has stopped); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._settled or self._loop.finished, timeout)
