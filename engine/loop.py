"""The engine loop: one thread waits for the next message (a command, a worker's event) or the next
deadline, whichever comes first, and hands each to the engine. The engine's state is touched nowhere else."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine import protocol
from engine.core import Engine

log = logging.getLogger("parafetch")

BATCH = 1000  # messages taken in one turn at most, so a flood of events never starves deadlines
QUERIES = (protocol.AskChanges, protocol.AskJobs, protocol.AskJob, protocol.AskStats, protocol.AskHistory,
           protocol.TakeStageResults)


class Reply(Protocol):
    """Where the answer to a command goes: a waiting caller, or a message up a pipe."""

    def resolve(self, value: object) -> None: ...
    def fail(self, error: Exception) -> None: ...


@dataclass(frozen=True)
class Request:
    """A command for the engine, and where its answer goes (None: nowhere)."""

    command: protocol.Command
    reply: Reply | None = None


TurnHook = Callable[[float, int], float | None]
"""Called after every turn with (now, how many commands it carried out); returns when it wants the next
turn."""


class EngineLoop:
    """Runs an engine until it has shut down. Worker events and Requests arrive in one inbox; answers go
    out at the end of the turn, once the engine has acted on them (started what an Add queued, say)."""

    def __init__(
        self, engine: Engine, inbox: queue.SimpleQueue[Any], on_turn: TurnHook | None = None
    ) -> None:
        self.engine = engine
        self._inbox = inbox
        self._on_turn = on_turn
        self._gate = threading.Lock()  # orders `submit` against the end: no request is left unanswered
        self._finished = False

    @property
    def finished(self) -> bool:
        """The loop has ended: the engine carries out nothing more."""
        return self._finished

    def submit(self, request: Request) -> bool:
        """Hand a request to the loop; False once the loop has ended (nothing more will be carried out)."""
        with self._gate:
            if self._finished:
                return False
            self._inbox.put(request)
            return True

    def run(self) -> None:
        engine = self.engine
        try:
            wanted: float | None = time.monotonic()  # a first turn at once: the hook's first snapshot
            while not engine.ended:
                answers: list[tuple[Reply, bool, Any]] = []
                commands = 0
                for item in self._take(self._timeout(wanted)):
                    if isinstance(item, Request):
                        commands += 1
                        answer = self._carry_out(item.command)
                        if item.reply is not None:
                            answers.append((item.reply, *answer))
                    elif item is not None:
                        engine.on_event(item)
                engine.step()
                wanted = self._on_turn(time.monotonic(), commands) if self._on_turn is not None else None
                _deliver(answers)
            engine.close()
        finally:
            with self._gate:
                self._finished = True
            self._answer_the_rest()
            if self._on_turn is not None:
                self._on_turn(time.monotonic(), 0)

    def _timeout(self, wanted: float | None) -> float | None:
        """How long to wait for a message: until the engine's or the hook's next deadline (no deadline: as
        long as it takes), not at all while jobs wait for room that is there."""
        if self.engine.more_to_start():
            return 0.0
        deadlines = [d for d in (self.engine.next_deadline(), wanted) if d is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _take(self, timeout: float | None) -> list[Any]:
        """The next message (waiting at most `timeout`), and every one already behind it up to BATCH."""
        try:
            items = [self._inbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(items) < BATCH:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return items

    def _carry_out(self, command: protocol.Command) -> tuple[bool, Any]:
        """(True, the answer) or (False, the exception); a command that fails leaves the engine as it was."""
        try:
            return True, self.engine.apply(command)
        except ValueError as refused:
            return False, refused
        except Exception as exc:
            log.exception("the engine could not carry out %r", command)
            return False, exc

    def _answer_the_rest(self) -> None:
        """After the end: questions still get answers (the final state); commands are refused."""
        answers: list[tuple[Reply, bool, Any]] = []
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Request) and item.reply is not None:
                if isinstance(item.command, QUERIES):
                    answers.append((item.reply, *self._carry_out(item.command)))
                else:
                    answers.append((item.reply, False, ValueError("the download engine has stopped")))
        _deliver(answers)


def _deliver(answers: list[tuple[Reply, bool, Any]]) -> None:
    for reply, ok, value in answers:
        if ok:
            reply.resolve(value)
        else:
            reply.fail(value)
