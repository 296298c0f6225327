"""Error kinds and the one exception a transfer raises, with a message a person understands."""

from __future__ import annotations

import enum


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
