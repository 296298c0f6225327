"""The local test server in a process of its own, as a real server would be: its threads then never compete
with the process under test for the GIL. Serves the generated files (`/gen/SIZE/NAME?rate=N`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SERVER_NICE = 10  # its CPU priority, below the app's (its threads, started later, inherit it)
SCRIPT = (
    "import sys; from tests.support.http_server import TestServer; server = TestServer().start(); "
    "print(server.base_url, flush=True); sys.stdin.read(); server.stop()"
)


@contextmanager
def remote_server(nice: bool = True) -> Iterator[str]:
    """Start the server in a child process; yields its base URL; stops it (and waits) at the end."""
    process = subprocess.Popen([sys.executable, "-c", SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, cwd=ROOT)
    try:
        if nice and hasattr(os, "setpriority"):
            os.setpriority(os.PRIO_PROCESS, process.pid, SERVER_NICE)
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()
