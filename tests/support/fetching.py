"""One call of the transfer outside any session, for the tests of what a single fetch does."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from engine.events import Event, Task
from engine.http_client import new_http_session
from engine.jobs import StopAction
from engine.transfer import FileState, fetch_alone


class Fetched(NamedTuple):
    """A file fetched and committed: where it is, its size and its SHA-256 (as the worker computed it)."""

    path: str
    size: int
    sha256: str


def fetch_once(
    url: str,
    dest: Path,
    state: FileState | None = None,
    sha256: str | None = None,
    stop_after: int | None = None,
    credentials: str | None = None,
) -> tuple[Fetched, list[Event]]:
    """Fetch `url` into `dest` (made if missing); with stop_after, pause once that many bytes are reported."""
    events: list[Event] = []
    seen = {"bytes": 0}

    def emit(event: Event) -> None:
        events.append(event)
        seen["bytes"] = getattr(event, "bytes_done", seen["bytes"])

    def stop() -> StopAction | None:
        return StopAction.PAUSE if stop_after is not None and seen["bytes"] >= stop_after else None

    dest.mkdir(parents=True, exist_ok=True)
    task = Task(1, url, str(dest), sha256, credentials=credentials)
    with new_http_session() as http:
        path, done = fetch_alone(task, state or FileState(), http, stop, emit)
    return Fetched(path, done.size, done.sha256), events
