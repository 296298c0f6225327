"""Local servers for benchmarks: nginx serving plain files; a server that answers after a delay."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
BLOCK = 1 << 20

NGINX_CONF = """\
worker_processes 1;
error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000;
    keepalive_timeout 120s;
    client_body_temp_path {tmp}/temp/body;
    proxy_temp_path {tmp}/temp/proxy;
    fastcgi_temp_path {tmp}/temp/fastcgi;
    uwsgi_temp_path {tmp}/temp/uwsgi;
    scgi_temp_path {tmp}/temp/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};
    }}
}}
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Return once something accepts connections on the port; raise if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


def write_big_file(path: Path, size: int) -> None:
    """A file of `size` bytes: one random 1 MiB block, repeated."""
    block = os.urandom(BLOCK)
    with open(path, "wb") as out:
        left = size
        while left > 0:
            left -= out.write(block[: min(BLOCK, left)])


def make_small_files(folder: Path, count: int, size: int, prefix: str = "f") -> list[str]:
    """`count` distinct files of `size` bytes named PREFIX0.. in `folder`; returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for index in range(count):
        name = f"{prefix}{index}"
        (folder / name).write_bytes(os.urandom(size))
        names.append(name)
    return names


class _ChildServer:
    """A server run as a child process: its pid, a polite stop that turns into a kill after 10 s, `with`."""

    _process: subprocess.Popen[Any] | None = None

    @property
    def pid(self) -> int:
        """The server's pid (nginx: the master, whose workers are its children)."""
        return self._process.pid if self._process is not None else 0

    def start(self) -> Self:
        raise NotImplementedError

    def _ask_to_stop(self, process: subprocess.Popen[Any]) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._ask_to_stop(self._process)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Nginx(_ChildServer):
    """nginx as a foreground child on 127.0.0.1 serving `root`, with its config and logs in `tmp`."""

    def __init__(self, root: Path, tmp: Path) -> None:
        self.root, self.tmp = root, tmp
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.conf = tmp / "nginx.conf"
        self._process = None

    def start(self) -> Self:
        (self.tmp / "temp").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(NGINX_CONF.format(tmp=self.tmp, port=self.port, root=self.root))
        for folder in (self.tmp, self.root):  # nginx's workers may run as nobody: let them in
            folder.chmod(0o755)
        self._process = subprocess.Popen(
            ["nginx", "-p", str(self.tmp), "-c", str(self.conf), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self._process)
        return self

    def _ask_to_stop(self, process: subprocess.Popen[Any]) -> None:
        process.terminate()  # SIGTERM: nginx's fast shutdown


class LatencyServer(_ChildServer):
    """benchmarks/latency_server.py (one asyncio loop: waiting connections cost it nothing) in a child
    process: `{base_url}/gen/SIZE/NAME?latency=SECONDS`."""

    def __init__(self) -> None:
        self.base_url = ""
        self._process = None

    def start(self) -> Self:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.latency_server"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url.startswith("http://"):
            self.stop()
            raise RuntimeError("the test server did not start")
        return self

    def _ask_to_stop(self, process: subprocess.Popen[Any]) -> None:
        assert process.stdin is not None
        process.stdin.close()  # the script reads stdin to its end, then stops the server
