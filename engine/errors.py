"""Error kinds and the one exception a transfer raises, with a message a person understands."""

from __future__ import annotations

import enum
import errno


class ErrorKind(enum.Enum):
    """Whether trying again could help."""

    RETRYABLE = "retryable"
    PERMANENT = "permanent"


class TransferError(Exception):
    """A failed transfer: what went wrong, in words, and whether a retry may succeed."""

    def __init__(
        self, message: str, kind: ErrorKind = ErrorKind.PERMANENT, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind is ErrorKind.RETRYABLE


def retryable(message: str, retry_after: float | None = None) -> TransferError:
    """A failure that may go away if tried again (timeouts, resets, 5xx, 429, short bodies)."""
    return TransferError(message, ErrorKind.RETRYABLE, retry_after)


def permanent(message: str) -> TransferError:
    """A failure that will not change by trying again (4xx, bad scheme, checksum, disk)."""
    return TransferError(message, ErrorKind.PERMANENT)


def disk_error(exc: OSError, what: str) -> TransferError:
    """A file-system failure as a permanent error a person can act on."""
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", -1):
        return permanent(f"disk full while {what}")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return permanent(f"permission denied while {what}")
    if exc.errno == errno.EROFS:
        return permanent(f"read-only file system while {what}")
    if exc.errno == errno.EFBIG:
        return permanent(f"file too large for this file system while {what}")
    if exc.errno == errno.ENOENT:
        return permanent(f"the destination folder is gone (deleted or unmounted?) while {what}")
    return permanent(f"{exc.strerror or exc} while {what}")
