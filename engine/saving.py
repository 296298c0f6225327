"""Persistence batching: what the store has yet to be told, written in one transaction at a time."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from engine.jobs import Job
from engine.naming import sync_folder
from engine.store import ErrorRecord, JobStore

log = logging.getLogger("parafetch")

SAVE_EVERY = 0.25  # seconds between writes of changed jobs to the store


class SaveBatch:
    """Changed jobs, failed attempts, folders, and what waits for them to be in the store.

    A grant (a reserved file name) goes out to its worker, and a finished file is named again, only once
    the store holds the name, so no file is ever made that the store does not know; something waiting
    makes the next save due at once.
    The folders of files finished since the last save are synced before it, so a job is saved as done
    only once its final name is durable (one folder sync per batch, not one per file).
    """

    def __init__(self, store: JobStore | None) -> None:
        self.store = store
        self._folders: set[str] = set()
        self._jobs: set[int] = set()
        self._errors: list[ErrorRecord] = []
        self._waiting: list[Callable[[], None]] = []
        self._saved_at = float("-inf")

    def job(self, job_id: int) -> None:
        if self.store is not None:
            self._jobs.add(job_id)

    def error(self, record: ErrorRecord) -> None:
        if self.store is not None:
            self._errors.append(record)

    def pending(self, job_id: int) -> bool:
        """True while a change to the job waits to be saved."""
        return job_id in self._jobs

    def folder(self, path: str) -> None:
        """A file was given its final name in this folder: sync it before the next save."""
        self._folders.add(path)

    def then(self, action: Callable[[], None]) -> None:
        """Do `action` once what is pending now is saved (the engine does it after the next save)."""
        self._waiting.append(action)

    def removed(self, job_id: int) -> None:
        """A job is forgotten: nothing more of it is saved, and its row goes."""
        self._jobs.discard(job_id)
        if self.store is not None:
            self.store.remove(job_id)

    def drop_waiting(self) -> None:
        """Do nothing that waits (the store cannot be written: no file may be made that it would not know)."""
        self._waiting.clear()

    def due_at(self) -> float | None:
        """When the next save is due (monotonic), or None when nothing waits."""
        if self._waiting:
            return self._saved_at  # now: a worker (or a finished file) waits
        if self._jobs or self._errors or self._folders:
            return self._saved_at + SAVE_EVERY
        return None

    def write(
        self, now: float, jobs: dict[int, Job], force: bool = False
    ) -> tuple[list[Callable[[], None]], str | None]:
        """Save what is due; returns what waited for the save, and why the store failed (or None)."""
        due = self.due_at()
        if due is None or (not force and now < due):
            return [], None
        changed = [jobs[i] for i in sorted(self._jobs) if i in jobs]
        errors = [e for e in self._errors if e[0] in jobs]
        waiting, folders = self._waiting, self._folders
        self._jobs, self._errors, self._waiting, self._folders = set(), [], [], set()
        self._saved_at = now
        for folder in sorted(folders):
            try:
                sync_folder(folder)
            except OSError as exc:
                log.error("cannot sync the folder %s: %s", folder, exc)
                return [], f"cannot save the names of finished files in {folder} to disk: {exc}"
        if self.store is not None and (changed or errors):
            try:
                self.store.save_many(changed, errors)
            except (sqlite3.Error, OSError, OverflowError, ValueError) as exc:
                log.error("cannot write the job store %s: %s", self.store.path, exc)
                return [], f"cannot write the job queue in {self.store.data_dir}: {exc}"
        return waiting, None

