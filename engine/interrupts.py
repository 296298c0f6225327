"""Ctrl-C and SIGTERM for the headless commands: both stop the run the same way, each with its exit status.

Kept free of heavy imports: main.py installs the SIGTERM handler before it loads anything else.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled the way Ctrl-C is: state saved, a summary, and exit status 143."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def handle_sigterm() -> None:
    """From now on SIGTERM stops this process the way Ctrl-C does (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def interrupted_status(exc: KeyboardInterrupt) -> int:
    return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


@contextlib.contextmanager
def no_more_interrupts() -> Iterator[None]:
    """While stopping after an interrupt, a second Ctrl-C or SIGTERM waits for the stop to end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
