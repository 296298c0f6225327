"""Tests of the fault-injecting test HTTP server itself, driven by requests and raw sockets."""

from __future__ import annotations

import hashlib
import http.client
import socket
import time
from email.utils import formatdate
from urllib.parse import urlsplit

import pytest
import requests

from tests.support import fixtures
from tests.support.http_server import TestServer, payload

pytestmark = pytest.mark.timeout(20)

http_server = fixtures.http_server  # the shared fixture, exercised by every test below

DATA = payload("a.bin", 10_000)


def _address(server: TestServer) -> tuple[str, int]:
    parts = urlsplit(server.base_url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def raw_get(server: TestServer, target: str, headers: dict[str, str] | None = None) -> tuple[bytes, bytes]:
    """One GET with Connection: close over a raw socket; returns (head, body) read until EOF."""
    lines = [f"GET {target} HTTP/1.1", f"Host: {server.base_url[7:]}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection(_address(server), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise AssertionError("no Content-Length")


# -- payload -----------------------------------------------------------------------------


def test_payload_is_deterministic_and_distinct() -> None:
    assert payload("x", 1000) == payload("x", 1000)
    assert len(payload("x", 0)) == 0 and len(payload("x", 3_000_001)) == 3_000_001
    assert payload("x", 1000) != payload("y", 1000)
    big = payload("big", 3 << 20)
    mib = 1 << 20
    assert big[:mib] != big[mib : 2 * mib] != big[2 * mib :]  # blocks differ from each other


def test_payload_is_cheap_for_100_mib() -> None:
    began = time.monotonic()
    assert len(payload("large", 100 << 20)) == 100 << 20
    assert time.monotonic() - began < 5


# -- normal behaviour --------------------------------------------------------------------


def test_get_registered_file(http_server: TestServer) -> None:
    url = http_server.add("/a.bin", DATA)
    assert url == http_server.base_url + "/a.bin"
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.content == DATA
    assert r.headers["Content-Length"] == str(len(DATA))
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["ETag"].startswith('"') and r.headers["ETag"].endswith('"')
    assert "Last-Modified" in r.headers
    assert http_server.bytes_sent("/a.bin") == len(DATA)


def test_content_type_from_extension_and_quoted_path(http_server: TestServer) -> None:
    url = http_server.add("/pics/naïve pic.png", b"\x89PNG")
    assert "%20" in url
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"


def test_head_sends_headers_only(http_server: TestServer) -> None:
    http_server.add("/a.bin", DATA)
    r = requests.head(http_server.url("/a.bin"), timeout=10)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Length"] == str(len(DATA))
    assert http_server.bytes_sent("/a.bin") == 0


def test_unknown_path_is_404(http_server: TestServer) -> None:
    assert requests.get(http_server.url("/missing"), timeout=10).status_code == 404
    assert requests.get(http_server.url("/gen/abc/x"), timeout=10).status_code == 404


def test_generated_file_and_its_ranges(http_server: TestServer) -> None:
    size = (5 << 20) + 123
    expected = payload("g.bin", size)
    url = http_server.url(f"/gen/{size}/g.bin")
    with requests.get(url, stream=True, timeout=10) as r:
        digest = hashlib.sha256()
        for chunk in r.iter_content(1 << 20):
            digest.update(chunk)
    assert digest.digest() == hashlib.sha256(expected).digest()
    start, end = (1 << 20) - 5, (3 << 20) + 7
    r = requests.get(url, headers={"Range": f"bytes={start}-{end}"}, timeout=10)
    assert r.status_code == 206 and r.content == expected[start : end + 1]
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{size}"


def test_keep_alive_reuses_one_connection(http_server: TestServer) -> None:
    http_server.add("/a.bin", DATA)
    conn = http.client.HTTPConnection(*_address(http_server), timeout=10)
    try:
        for _ in range(3):
            conn.request("GET", "/a.bin")
            sock = conn.sock
            assert conn.getresponse().read() == DATA
            assert conn.sock is sock
    finally:
        conn.close()


def test_many_simultaneous_connections(http_server: TestServer) -> None:
    socks = [socket.create_connection(_address(http_server), timeout=10) for _ in range(160)]
    try:
        for sock in socks:
            sock.sendall(b"GET /gen/100/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        for sock in socks:
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            assert data.startswith(b"HTTP/1.1 200") and data.endswith(payload("x", 100))
    finally:
        for sock in socks:
            sock.close()
    assert len(http_server.requests_for("/gen/100/x")) == 160


def test_requests_are_recorded(http_server: TestServer) -> None:
    http_server.add("/a.bin", DATA)
    requests.head(http_server.url("/a.bin"), timeout=10)
    requests.get(http_server.url("/a.bin", q="1"), headers={"Range": "bytes=5-"}, timeout=10)
    records = http_server.requests_for("/a.bin")
    assert [(rec.method, rec.path) for rec in records] == [("HEAD", "/a.bin"), ("GET", "/a.bin?q=1")]
    assert records[1].header("range") == "bytes=5-" and records[0].header("Range") is None
    assert records[0].time <= records[1].time <= time.monotonic()
    assert http_server.bytes_sent("/a.bin") == len(DATA) - 5


def test_stop_closes_idle_keep_alive_connections() -> None:
    server = TestServer().start()
    with socket.create_connection(_address(server), timeout=10) as sock:
        sock.sendall(b"GET /gen/10/x HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while not data.endswith(payload("x", 10)):
            data += sock.recv(4096)
        assert data.startswith(b"HTTP/1.1 200")
        began = time.monotonic()
        server.stop()
        assert time.monotonic() - began < 5
        assert sock.recv(4096) == b""
    server.stop()  # idempotent


# -- ranges and validators ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "start", "end"), [("bytes=100-", 100, 9999), ("bytes=10-19", 10, 19), ("bytes=-30", 9970, 9999)]
)
def test_range_gives_206(http_server: TestServer, spec: str, start: int, end: int) -> None:
    url = http_server.add("/a.bin", DATA)
    r = requests.get(url, headers={"Range": spec}, timeout=10)
    assert r.status_code == 206 and r.content == DATA[start : end + 1]
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert r.headers["Content-Length"] == str(end - start + 1)


def test_range_beyond_end_is_416(http_server: TestServer) -> None:
    url = http_server.add("/a.bin", DATA)
    r = requests.get(url, headers={"Range": f"bytes={len(DATA)}-"}, timeout=10)
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{len(DATA)}"
    wrong = http_server.add("/w.bin", DATA, wrong_range_total=True)
    r = requests.get(wrong, headers={"Range": "bytes=20000-"}, timeout=10)
    assert r.status_code == 416 and r.headers["Content-Range"] != f"bytes */{len(DATA)}"


def test_if_range(http_server: TestServer) -> None:
    url = http_server.add("/a.bin", DATA)
    head = requests.head(url, timeout=10).headers
    for validator in (head["ETag"], head["Last-Modified"]):
        r = requests.get(url, headers={"Range": "bytes=10-", "If-Range": validator}, timeout=10)
        assert r.status_code == 206 and r.content == DATA[10:]
    for validator in ('"stale"', formatdate(0, usegmt=True)):
        r = requests.get(url, headers={"Range": "bytes=10-", "If-Range": validator}, timeout=10)
        assert r.status_code == 200 and r.content == DATA


def test_set_data_changes_validators(http_server: TestServer) -> None:
    url = http_server.add("/a.bin", DATA)
    before = requests.head(url, timeout=10).headers
    http_server.set_data("/a.bin", b"new content")
    r = requests.get(url, headers={"Range": "bytes=2-", "If-Range": before["ETag"]}, timeout=10)
    assert r.status_code == 200 and r.content == b"new content"
    assert r.headers["ETag"] != before["ETag"] and r.headers["Last-Modified"] != before["Last-Modified"]


def test_ignore_range(http_server: TestServer) -> None:
    url = http_server.add("/a.bin", DATA, ignore_range=True)
    r = requests.get(url, headers={"Range": "bytes=10-"}, timeout=10)
    assert r.status_code == 200 and r.content == DATA
    r = requests.get(http_server.url("/gen/50/x", ignore_range=1), headers={"Range": "bytes=10-"}, timeout=10)
    assert r.status_code == 200 and len(r.content) == 50


def test_etag_false_sends_no_validators(http_server: TestServer) -> None:
    r = requests.get(http_server.add("/a.bin", DATA, etag=False), timeout=10)
    assert "ETag" not in r.headers and "Last-Modified" not in r.headers
    r = requests.get(http_server.url("/gen/5/x", etag="0"), timeout=10)
    assert "ETag" not in r.headers


# -- faults ------------------------------------------------------------------------------


def test_status_with_retry_after(http_server: TestServer) -> None:
    url = http_server.add("/a.bin", DATA, status=429, retry_after="7")
    for _ in range(2):
        r = requests.get(url, timeout=10)
        assert r.status_code == 429 and r.headers["Retry-After"] == "7" and r.content != DATA
    r = requests.get(http_server.url("/gen/5/x", status=500), timeout=10)
    assert r.status_code == 500 and "Retry-After" not in r.headers


def test_fail_first_counts_per_path(http_server: TestServer) -> None:
    url = http_server.add("/a.bin", DATA, fail_first=2)
    assert [requests.get(url, timeout=10).status_code for _ in range(3)] == [503, 503, 200]
    other = http_server.add("/b.bin", DATA, fail_first=1, status=502)
    assert [requests.get(other, timeout=10).status_code for _ in range(2)] == [502, 200]
    # /gen counts by path without the query string
    urls = [http_server.url("/gen/5/g", fail_first=2, n=n) for n in range(3)]
    assert [requests.get(u, timeout=10).status_code for u in urls] == [503, 503, 200]


def test_truncate_sends_fewer_bytes_than_declared(http_server: TestServer) -> None:
    http_server.add("/a.bin", DATA, truncate=1000)
    head, body = raw_get(http_server, "/a.bin")
    assert content_length(head) == len(DATA) and body == DATA[:1000]
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(http_server.url("/gen/5000/x", truncate=10), timeout=10)


def test_reset_aborts_the_connection(http_server: TestServer) -> None:
    url = http_server.add("/a.bin", DATA, reset=100)
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.get(url, timeout=10)
    with pytest.raises(ConnectionResetError):
        raw_get(http_server, "/gen/100000/x?reset=10")


def test_redirect_chain(http_server: TestServer) -> None:
    r = requests.get(http_server.url("/gen/20/x", redirect=3), timeout=10)
    assert r.status_code == 200 and r.content == payload("x", 20)
    assert [h.status_code for h in r.history] == [302, 302, 302]
    r = requests.get(http_server.add("/a.bin", DATA, redirect=2), timeout=10)
    assert len(r.history) == 2 and r.content == DATA
    assert len(http_server.requests_for("/a.bin")) == 3


def test_redirect_to_other_scheme(http_server: TestServer) -> None:
    url = http_server.add("/a.bin", DATA, redirect_to="ftp://example.invalid/a.bin")
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "ftp://example.invalid/a.bin"


@pytest.mark.parametrize(
    "cd", ['attachment; filename="../../x"', "attachment; filename*=UTF-8''na%C3%AFve.txt"]
)
def test_content_disposition(http_server: TestServer, cd: str) -> None:
    r = requests.get(http_server.add("/a.bin", DATA, cd=cd), timeout=10)
    assert r.headers["Content-Disposition"] == cd
    r = requests.get(http_server.url("/gen/5/x", cd=cd), timeout=10)
    assert r.headers["Content-Disposition"] == cd


def test_content_disposition_beyond_latin1_goes_out_as_utf8(http_server: TestServer) -> None:
    http_server.add("/a.bin", DATA, cd='attachment; filename="日本.txt"')
    head, _ = raw_get(http_server, "/a.bin")
    assert 'filename="日本.txt"'.encode() in head


def test_no_length(http_server: TestServer) -> None:
    r = requests.get(http_server.add("/a.bin", DATA, no_length=True), timeout=10)
    assert r.content == DATA and "Content-Length" not in r.headers
    assert r.headers["Connection"] == "close"


def test_extra_bytes_after_body(http_server: TestServer) -> None:
    http_server.add("/a.bin", DATA, extra=50)
    head, body = raw_get(http_server, "/a.bin")
    assert content_length(head) == len(DATA) and len(body) == len(DATA) + 50 and body.startswith(DATA)


def test_latency(http_server: TestServer) -> None:
    began = time.monotonic()
    requests.get(http_server.add("/a.bin", DATA, latency=0.3), timeout=10)
    assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    requests.get(http_server.url("/gen/5/x", latency="0.2"), timeout=10)
    assert time.monotonic() - began >= 0.2


def test_rate_holds(http_server: TestServer) -> None:
    size, rate = 64 * 1024, 256 * 1024
    began = time.monotonic()
    r = requests.get(http_server.url(f"/gen/{size}/x", rate=rate), timeout=10)
    elapsed = time.monotonic() - began
    assert len(r.content) == size
    assert 0.15 <= elapsed <= 1.0  # nominally 0.25 s


def test_bad_faults(http_server: TestServer) -> None:
    with pytest.raises(TypeError):
        http_server.add("/a.bin", DATA, latencyy=1)
    assert requests.get(http_server.url("/gen/5/x", rate="fast"), timeout=10).status_code == 400
