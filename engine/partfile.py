"""A download's `.part` file: created new, or reopened only when it still holds exactly what was written."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat

from engine.errors import disk_error

READ_BLOCK = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


class PartFile:
    """An open `.part`: a regular file with one link, ours, written through the descriptor `fd`."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def create(cls, path: str) -> PartFile:
        """A new, empty part file; raises FileExistsError when something is at `path`."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
        except FileExistsError:
            raise
        except OSError as exc:
            raise disk_error(exc, f"creating {path}") from exc
        return cls(path, fd)

    @classmethod
    def recreate(cls, path: str) -> PartFile:
        """A new, empty part file at a path that is ours: whatever is there is unlinked first (a planted
        link loses only its name; the file it points to is never opened)."""
        discard(path)
        try:
            return cls.create(path)
        except FileExistsError as exc:
            raise disk_error(exc, f"creating {path}") from exc

    @classmethod
    def reopen(
        cls, path: str, durable: int, durable_sha256: str | None
    ) -> tuple[PartFile, hashlib._Hash] | None:
        """Open a part to resume it, if its first `durable` bytes are still the ones written (their
        SHA-256 is `durable_sha256`); returns it with the digest of those bytes. None when it is missing,
        not a regular file, linked elsewhere (a hard link), shorter, or holds other bytes."""
        if durable <= 0 or not durable_sha256:
            return None
        try:
            fd = os.open(path, os.O_RDWR | _NOFOLLOW)
        except OSError:
            return None
        part = cls(path, fd)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size < durable:
                part.close()
                return None
            digest = _hash_prefix(fd, durable)
        except OSError:
            part.close()
            return None
        if digest.hexdigest() != durable_sha256:
            part.close()
            return None
        return part, digest

    def truncate(self, size: int) -> None:
        """Cut the file to `size` bytes and write from there."""
        try:
            os.ftruncate(self.fd, size)
            os.lseek(self.fd, size, os.SEEK_SET)
        except OSError as exc:
            raise disk_error(exc, f"preparing {self.path}") from exc

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as exc:
            raise disk_error(exc, "writing") from exc

    def sync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as exc:
            raise disk_error(exc, "saving data to disk") from exc

    def close(self) -> None:
        """Close the descriptor; harmless twice."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def discard(self) -> None:
        """Close and remove the part."""
        self.close()
        discard(self.path)


def _hash_prefix(fd: int, length: int) -> hashlib._Hash:
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while length > 0:
        block = os.read(fd, min(READ_BLOCK, length))
        if not block:
            raise OSError("shorter than expected")
        digest.update(block)
        length -= len(block)
    return digest


def discard(part_path: str | None) -> None:
    """Remove a partial file if it is there."""
    if part_path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part_path)

