"""Persistence batching: what the store has yet to be told, written in one transaction at a time."""

from __future__ import annotations

import logging
import sqlite3

from engine.events import NameGranted
from engine.jobs import Job
from engine.naming import sync_folder
from engine.store import ErrorRecord, JobStore

log = logging.getLogger("parafetch")

SAVE_EVERY = 0.25  # seconds between writes of changed jobs to the store


class SaveBatch:
    """Changed jobs, failed attempts, name grants and folders waiting for the store.

    A grant (a reserved file name) goes out to its worker only once the store holds it, so no file is
    ever made that the store does not know; a worker waiting for one makes the next save due at once.
    The folders of files finished since the last save are synced before it, so a job is saved as done
    only once its final name is durable (one folder sync per batch, not one per file).
    """

    def __init__(self, store: JobStore | None) -> None:
        self.store = store
        self._folders: set[str] = set()
        self._jobs: set[int] = set()
        self._errors: list[ErrorRecord] = []
        self._grants: list[tuple[int, NameGranted]] = []
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

    def grant(self, worker_id: int, grant: NameGranted) -> None:
        self._grants.append((worker_id, grant))

    def removed(self, job_id: int) -> None:
        """A job is forgotten: nothing more of it is saved, and its row goes."""
        self._jobs.discard(job_id)
        if self.store is not None:
            self.store.remove(job_id)

    def drop_grants(self) -> None:
        """Answer nobody (the store cannot be written: no worker may make a file it would not know)."""
        self._grants.clear()

    def due_at(self) -> float | None:
        """When the next save is due (monotonic), or None when nothing waits."""
        if self._grants:
            return self._saved_at  # now: a worker waits
        if self._jobs or self._errors or self._folders:
            return self._saved_at + SAVE_EVERY
        return None

    def write(
        self, now: float, jobs: dict[int, Job], force: bool = False
    ) -> tuple[list[tuple[int, NameGranted]], str | None]:
        """Save what is due; returns the grants now safe to send, and why the store failed (or None)."""
        due = self.due_at()
        if due is None or (not force and now < due):
            return [], None
        changed = [jobs[i] for i in sorted(self._jobs) if i in jobs]
        errors = [e for e in self._errors if e[0] in jobs]
        grants, folders = self._grants, self._folders
        self._jobs, self._errors, self._grants, self._folders = set(), [], [], set()
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
        return grants, None

