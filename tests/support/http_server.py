"""Threaded HTTP/1.1 test server on 127.0.0.1 with injectable faults."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import mimetypes
import socket
import ssl
import struct
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

BLOCK = 1 << 20  # generated content is produced and streamed in 1 MiB pieces
GEN_MTIME = 1_700_000_000  # fixed Last-Modified of generated files
TLS_PEM = Path(__file__).resolve().parent / "tls" / "localhost.pem"  # self-signed, for 127.0.0.1
TLS_CA = Path(__file__).resolve().parent / "tls" / "localhost-cert.pem"  # what a client trusts for it


def _to_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("", "1", "true", "yes", "on")
    return bool(value)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "latency": float, "rate": int, "truncate": int, "reset": int, "status": int,
    "fail_first": int, "retry_after": str, "ignore_range": _to_bool, "cd": str,
    "redirect": int, "redirect_to": str, "no_length": _to_bool, "extra": int,
    "etag": _to_bool, "wrong_range_total": _to_bool, "fixed_etag": str, "ignore_if_range": _to_bool,
    "set_cookie": str, "auth": str,
}


@dataclass(frozen=True)
class Faults:
    """Faults applied to one response (keyword args of add() or /gen query parameters)."""

    latency: float = 0.0
    rate: int = 0
    truncate: int | None = None
    reset: int | None = None
    status: int | None = None
    fail_first: int = 0
    retry_after: str | None = None
    ignore_range: bool = False
    cd: str | None = None
    redirect: int = 0
    redirect_to: str | None = None
    no_length: bool = False
    extra: int = 0
    etag: bool = True
    wrong_range_total: bool = False
    fixed_etag: str | None = None  # this ETag (and a fixed Last-Modified) whatever the content
    ignore_if_range: bool = False  # answer a range request with 206 even when If-Range does not match
    set_cookie: str | None = None  # a Set-Cookie header on every answer, redirects included
    auth: str | None = None  # "user:password" required as HTTP Basic authentication, else 401

    @classmethod
    def parse(cls, raw: Mapping[str, object], strict: bool = False) -> Faults:
        """Convert keyword or query values; unknown names raise only if strict."""
        unknown = set(raw) - set(_CONVERTERS)
        if strict and unknown:
            raise TypeError(f"unknown fault(s): {sorted(unknown)}")
        return cls(**{k: _CONVERTERS[k](v) for k, v in raw.items() if k in _CONVERTERS})


@dataclass(frozen=True)
class RequestRecord:
    """One request as received by the server."""

    method: str
    path: str  # as sent, including the query string
    headers: dict[str, str]
    time: float  # time.monotonic() on arrival

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class _Resource:
    size: int
    etag: str
    mtime: int
    content_type: str
    chunks: Callable[[int, int], Iterator[bytes]]  # (start, stop) -> body pieces


@functools.lru_cache(maxsize=64)
def _base_block(name: str, size: int) -> bytes:
    seed = f"{size}:{name}".encode()
    return hashlib.shake_128(seed).digest(max(1, min(size, BLOCK)))


def _block(name: str, size: int, index: int) -> bytes:
    """Block `index` of payload(name, size): the base block rotated by a per-index offset."""
    base = _base_block(name, size)
    key = hashlib.sha256(f"{size}:{name}:{index}".encode()).digest()
    k = int.from_bytes(key[:8], "big") % len(base)
    return (base[k:] + base[:k])[: min(BLOCK, size - index * BLOCK)]


def _iter_payload(name: str, size: int, start: int, stop: int) -> Iterator[bytes]:
    for index in range(start // BLOCK, (stop + BLOCK - 1) // BLOCK):
        offset = index * BLOCK
        yield _block(name, size, index)[max(start - offset, 0) : stop - offset]


def payload(name: str, size: int) -> bytes:
    """Deterministic pseudo-random bytes for a name and size (cheap even for 100 MiB)."""
    return b"".join(_iter_payload(name, size, 0, size))


def _content_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def _static(path: str, data: bytes, mtime: int) -> _Resource:
    view = memoryview(data)

    def chunks(start: int, stop: int) -> Iterator[bytes]:
        for pos in range(start, stop, BLOCK):
            yield bytes(view[pos : min(pos + BLOCK, stop)])

    etag = hashlib.sha256(data).hexdigest()[:32]
    return _Resource(len(data), f'"{etag}"', mtime, _content_type(path), chunks)


def _generated(path: str) -> _Resource | None:
    parts = path.split("/", 3)  # "", "gen", size, name
    if len(parts) != 4 or parts[1] != "gen" or not parts[2].isdigit() or not parts[3]:
        return None
    size, name = int(parts[2]), parts[3]
    etag = hashlib.sha256(f"{size}:{name}".encode()).hexdigest()[:32]
    return _Resource(
        size, f'"{etag}"', GEN_MTIME, _content_type(name),
        lambda start, stop: _iter_payload(name, size, start, stop),
    )


def _parse_range(value: str, total: int) -> tuple[int, int] | None:
    """Parse a single `bytes=` range into [start, stop); None means ignore the header.

    A result with start >= stop is unsatisfiable (416).
    """
    unit, _, spec = value.partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not dash or "," in spec:
        return None
    if not first:  # suffix range "bytes=-N": the last N bytes
        return (max(total - int(last), 0), total) if last.isdigit() else None
    if not first.isdigit() or (last and (not last.isdigit() or int(last) < int(first))):
        return None
    return int(first), min(int(last) + 1, total) if last else total


def _latin1(value: str) -> str:
    """Header text for send_header; non-latin-1 text goes out as raw UTF-8 bytes."""
    return value if max(map(ord, value), default=0) < 256 else value.encode().decode("latin-1")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, owner: TestServer, address: tuple[str, int]) -> None:
        self.owner = owner
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    @property
    def owner(self) -> TestServer:
        return cast(_HTTPServer, self.server).owner

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.owner._track(self.connection, True)

    def finish(self) -> None:
        self.owner._track(self.connection, False)
        super().finish()

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # client went away (BrokenPipe, ConnectionReset, ...)
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _send_text(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        body = text.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        owner, split = self.owner, urlsplit(self.path)
        key = unquote(split.path)
        headers = dict(self.headers.items())
        owner._record(key, RequestRecord(self.command, self.path, headers, time.monotonic()))
        resource, raw = owner._lookup(key)
        if resource is None:
            self._send_text(404, "not found\n")
            return
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            faults = Faults.parse({**raw, **query})
        except (TypeError, ValueError) as exc:
            self._send_text(400, f"bad fault parameter: {exc}\n")
            return
        if faults.latency > 0:
            owner._stopping.wait(faults.latency)
        cookie = {"Set-Cookie": faults.set_cookie} if faults.set_cookie else {}
        if faults.auth is not None:
            wanted = "Basic " + base64.b64encode(faults.auth.encode()).decode()
            if self.headers.get("Authorization") != wanted:
                self._send_text(401, "who are you?\n", {"WWW-Authenticate": 'Basic realm="test"'})
                return
        if faults.redirect_to or faults.redirect > 0:
            location = faults.redirect_to or owner.url(key, **{**query, "redirect": faults.redirect - 1})
            self._send_text(302, "redirect\n", {"Location": location, **cookie})
            return
        failing = faults.status is not None or faults.fail_first > 0
        if failing and (faults.fail_first <= 0 or owner._bump(owner._attempts, key) <= faults.fail_first):
            extra = {"Retry-After": faults.retry_after} if faults.retry_after else {}
            self._send_text(faults.status or 503, "injected failure\n", extra)
            return
        self._send_file(key, resource, faults, head, cookie)

    def _if_range_matches(self, resource: _Resource, faults: Faults) -> bool:
        value = self.headers.get("If-Range")
        if value is None or faults.ignore_if_range:
            return True
        if not faults.etag:
            return False
        if value.startswith(('"', "W/")):
            return value == resource.etag
        try:
            return parsedate_to_datetime(value).timestamp() == resource.mtime
        except (TypeError, ValueError):
            return False

    def _send_file(
        self, key: str, resource: _Resource, faults: Faults, head: bool, extra: Mapping[str, str]
    ) -> None:
        if faults.fixed_etag is not None:
            resource = _Resource(resource.size, faults.fixed_etag, GEN_MTIME, resource.content_type,
                                 resource.chunks)
        total, start, stop, status = resource.size, 0, resource.size, 200
        range_header = self.headers.get("Range")
        if range_header and not faults.ignore_range and self._if_range_matches(resource, faults):
            parsed = _parse_range(range_header, total)
            if parsed is not None and parsed[0] >= parsed[1]:
                claimed = total * 2 + 1 if faults.wrong_range_total else total
                self._send_text(416, "range not satisfiable\n", {"Content-Range": f"bytes */{claimed}"})
                return
            if parsed is not None:
                (start, stop), status = parsed, 206
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Type", resource.content_type)
        self.send_header("Accept-Ranges", "bytes")
        if faults.etag:
            self.send_header("ETag", resource.etag)
            self.send_header("Last-Modified", formatdate(resource.mtime, usegmt=True))
        if faults.cd is not None:
            self.send_header("Content-Disposition", _latin1(faults.cd))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{total}")
        if faults.no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(stop - start))
        self.end_headers()
        if head:
            return
        cut = faults.reset if faults.reset is not None else faults.truncate
        if cut is not None:
            stop = min(stop, start + max(cut, 0))
        self._write(key, resource.chunks(start, stop), faults.rate)
        if faults.extra > 0:
            self._write(key, iter([b"X" * faults.extra]), faults.rate)
        if faults.reset is not None:
            self._abort()
        elif cut is not None or faults.extra > 0:
            self.close_connection = True

    def _write(self, key: str, chunks: Iterator[bytes], rate: int) -> None:
        step = max(1, min(rate // 50, 64 * 1024)) if rate > 0 else BLOCK
        began, sent = time.monotonic(), 0
        for chunk in chunks:
            for pos in range(0, len(chunk), step):
                piece = chunk[pos : pos + step]
                if rate > 0:
                    delay = began + sent / rate - time.monotonic()
                    if delay > 0 and self.owner._stopping.wait(delay):
                        raise ConnectionAbortedError("server stopping")
                # Count first, so a client that has the bytes always sees them counted.
                self.owner._bump(self.owner._sent, key, len(piece))
                self.wfile.write(piece)
                sent += len(piece)

    def _abort(self) -> None:
        """Close the connection with a TCP RST (SO_LINGER 0)."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # drop the makefile reference so close() really closes
        self.connection.close()


class TestServer:
    """A real threaded HTTP/1.1 server for tests: register files, inject faults."""

    __test__ = False  # not a pytest test class

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: bool = False) -> None:
        """With `tls`, HTTPS with the self-signed certificate in TLS_PEM (clients trust TLS_CA)."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._files: dict[str, tuple[_Resource, dict[str, object]]] = {}
        self._records: defaultdict[str, list[RequestRecord]] = defaultdict(list)
        self._attempts: Counter[str] = Counter()  # requests that reached the status/fail_first check
        self._sent: Counter[str] = Counter()  # body bytes written
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self._httpd = _HTTPServer(self, (host, port))
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(TLS_PEM)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        bound_host, bound_port = self._httpd.server_address[:2]
        self.base_url = f"{'https' if tls else 'http'}://{bound_host!s}:{bound_port}"

    def start(self) -> TestServer:
        """Serve in a background thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                name="TestServer", daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Shut down, drop open connections, close the socket and join the thread."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> TestServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def add(self, path: str, data: bytes, **faults: object) -> str:
        """Register a file at `path` (unencoded, e.g. "/a.bin") with faults; return its URL."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        Faults.parse(faults, strict=True)
        with self._lock:
            self._files[path] = (_static(path, data, int(time.time()) - 86400), dict(faults))
        return self.url(path)

    def set_data(self, path: str, data: bytes) -> None:
        """Replace a registered file's bytes; its ETag and Last-Modified change too."""
        with self._lock:
            old, faults = self._files[path]
            mtime = max(int(time.time()), old.mtime + 1)
            self._files[path] = (_static(path, data, mtime), faults)

    def url(self, path: str, **query: object) -> str:
        """base_url + percent-encoded path + urlencoded query."""
        suffix = "?" + urlencode(query) if query else ""
        return self.base_url + quote(path, safe="/") + suffix

    def requests_for(self, path: str) -> list[RequestRecord]:
        """Every request received for `path` (query ignored), oldest first."""
        with self._lock:
            return list(self._records.get(path.partition("?")[0], ()))

    def bytes_sent(self, path: str) -> int:
        """Total body bytes handed to the socket for `path` (query ignored)."""
        with self._lock:
            return self._sent[path.partition("?")[0]]

    # -- used by the handler ---------------------------------------------------------

    def _lookup(self, path: str) -> tuple[_Resource | None, dict[str, object]]:
        with self._lock:
            if path in self._files:
                return self._files[path]
        return _generated(path), {}

    def _record(self, path: str, record: RequestRecord) -> None:
        with self._lock:
            self._records[path].append(record)

    def _bump(self, counter: Counter[str], path: str, amount: int = 1) -> int:
        with self._lock:
            counter[path] += amount
            return counter[path]

    def _track(self, conn: socket.socket, active: bool) -> None:
        with self._lock:
            (self._connections.add if active else self._connections.discard)(conn)
