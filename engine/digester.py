"""SHA-256 and checkpoint fsyncs of a part file, moved to a helper thread once the file is large."""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable

INLINE_BYTES = 4 << 20  # hashed in the receive loop below this: a thread would cost more than it saves
WRITE_BEHIND = 8 << 20  # bytes hashed between requests to the OS to start writing them out
QUEUED_CHUNKS = 32  # chunks waiting for the helper thread before the receive loop waits for it

_Work = tuple[bytes | memoryview, Callable[[], None] | None] | int | None  # a chunk, a checkpoint, the end


class Digester:
    """Hashes received chunks and fsyncs checkpoints, in the order given.

    Small files are handled inline. From INLINE_BYTES on, a helper thread takes the work, so hashing and
    fsync overlap the network reads and the page-cache writes (hashlib and os.fsync release the GIL).
    `checkpointed` is (offset, SHA-256 of the bytes before it) as proven on disk by the last completed
    fsync: what a resume may trust. Call `close()` before the file descriptor is closed.
    """

    def __init__(self, digest: hashlib._Hash, fd: int, durable: int,
                 disk_error: Callable[[OSError], Exception]) -> None:
        self.digest = digest
        self.checkpointed = (durable, digest.hexdigest() if durable else "")
        self._fd = fd
        self._disk_error = disk_error
        self._inline_bytes = 0
        self._hashed_to = durable  # file offset up to which the helper has hashed (chunks come in order)
        self._written_behind = durable  # ... and up to which it has asked the OS to write out
        self._queue: queue.Queue[_Work] | None = None
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None
        self._closed = False

    def add(self, chunk: bytes | memoryview, release: Callable[[], None] | None = None) -> None:
        """Hash `chunk` (now, or queued behind the earlier ones); `release` is called once it is hashed,
        when the caller may fill its memory again."""
        self._raise_error()
        if self._queue is not None:
            self._queue.put((chunk, release))
            return
        self.digest.update(chunk)
        if release is not None:
            release()
        self._hashed_to += len(chunk)
        self._inline_bytes += len(chunk)
        if self._inline_bytes >= INLINE_BYTES and not self._closed:
            self._start()

    def checkpoint(self, size: int) -> None:
        """fsync the file, then record `size` as durable (now, or once the queued work before it is done)."""
        self._raise_error()
        if self._queue is not None:
            self._queue.put(size)
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise self._disk_error(exc) from exc
        self.checkpointed = (size, self.digest.copy().hexdigest())

    @property
    def durable(self) -> int:
        return self.checkpointed[0]

    def sync_all(self, size: int) -> None:
        """Finish the queued work, fsync, and record all `size` bytes as durable."""
        self.close()
        self.checkpoint(size)

    def finish(self) -> None:
        """Wait for everything queued; raises the disk error the helper met, if any."""
        self.close()
        self._raise_error()

    def close(self) -> None:
        """Stop the helper thread after the work already queued; later work is done inline. Idempotent."""
        self._closed = True
        if self._thread is None or self._queue is None:
            return
        self._queue.put(None)
        self._thread.join()
        self._thread, self._queue = None, None

    def _start(self) -> None:
        self._queue = queue.Queue(maxsize=QUEUED_CHUNKS)
        self._thread = threading.Thread(target=self._work, name="digester", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so the receive loop never blocks on a full queue
            try:
                if isinstance(item, int):
                    os.fsync(self._fd)
                    self.checkpointed = (item, self.digest.copy().hexdigest())
                else:
                    chunk, release = item
                    self.digest.update(chunk)
                    if release is not None:
                        release()
                    self._hashed_to += len(chunk)
                    self._write_behind()
            except OSError as exc:
                self._error = exc

    def _write_behind(self) -> None:
        """Have the OS start writing out what is hashed, so a checkpoint's fsync finds little left to do
        (on Linux POSIX_FADV_DONTNEED starts writeback of the range without waiting for it)."""
        if self._hashed_to - self._written_behind < WRITE_BEHIND or not hasattr(os, "posix_fadvise"):
            return
        os.posix_fadvise(self._fd, self._written_behind, self._hashed_to - self._written_behind,
                         os.POSIX_FADV_DONTNEED)
        self._written_behind = self._hashed_to

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._disk_error(self._error) from self._error
