"""Servers that lie or stall, against real local servers: every resume is proven, every answer checked."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

import engine.http_client
from engine.errors import TransferError
from engine.jobs import JobState
from engine.session import Session
from engine.sources import parse_text
from engine.transfer import FileState
from tests.support.fetching import fetch_once as run
from tests.support.http_server import TLS_CA, TestServer, payload
from tests.support.raw_server import RawServer

pytestmark = pytest.mark.timeout(60)
CUT = 150_000


def gets(server: TestServer, path: str) -> list[str | None]:
    """The Range header of every GET the server saw for `path`, in order."""
    return [r.header("Range") for r in server.requests_for(path) if r.method == "GET"]


def cut_once(server: TestServer, path: str, data: bytes, dest: Path, **faults: object) -> FileState:
    """A first attempt that the server cuts after CUT bytes; returns what it left to resume from."""
    url = server.add(path, data, truncate=CUT, **faults)
    state = FileState()
    with pytest.raises(TransferError):
        run(url, dest, state)
    assert state.durable == CUT and state.durable_sha256 == hashlib.sha256(data[:CUT]).hexdigest()
    return state


# ---- a response head that never ends -------------------------------------------------------------------


def test_headers_sent_a_byte_at_a_time_hit_the_head_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine.http_client, "HEAD_DEADLINE", 1.0)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Filler: " + b"y" * 60 + b"\r\n\r\nbody"
    with RawServer(head, drip=0.1) as server:  # every read gets a byte: no read ever times out
        began = time.monotonic()
        with pytest.raises(TransferError) as error:
            run(server.url, tmp_path)
        waited = time.monotonic() - began
    assert error.value.retryable
    assert error.value.message == "server did not send its response headers within 1 s"
    assert 1.0 <= waited < 3.0
    assert list(tmp_path.iterdir()) == []


def test_a_slow_head_within_the_deadline_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.http_client, "HEAD_DEADLINE", 5.0)
    with RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody", drip=0.01) as server:
        done, _ = run(server.url, tmp_path)
    assert Path(done.path).read_bytes() == b"body"


# ---- a .part that is not what was written ----------------------------------------------------------------


@pytest.mark.parametrize(
    "replacement",
    [
        pytest.param(lambda old: payload("other", len(old)), id="same-size-other-bytes"),
        pytest.param(lambda old: old[: len(old) // 2], id="fewer"),
        pytest.param(lambda old: payload("other", 2 * len(old)), id="more"),
        pytest.param(lambda old: old[:-1] + bytes([old[-1] ^ 1]), id="last-byte-flipped"),
    ],
)
def test_a_replaced_part_restarts_the_file_instead_of_being_appended_to(
    http_server: TestServer, tmp_path: Path, replacement: object
) -> None:
    data = payload("rp", 400_000)
    state = cut_once(http_server, "/rp.bin", data, tmp_path)
    part = Path(str(state.part_path))
    part.write_bytes(replacement(part.read_bytes()))  # type: ignore[operator]
    http_server.add("/rp.bin", data)
    done, _ = run(http_server.url("/rp.bin"), tmp_path, state)
    assert Path(done.path).read_bytes() == data
    assert gets(http_server, "/rp.bin") == [None, None]  # started over, never asked for bytes=150000-
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rp.bin"]


def test_a_part_with_only_unrecorded_bytes_after_the_durable_ones_resumes(
    http_server: TestServer, tmp_path: Path
) -> None:
    data = payload("tail", 400_000)
    state = cut_once(http_server, "/tail.bin", data, tmp_path)
    with open(str(state.part_path), "ab") as part:
        part.write(b"bytes written after the last fsync, or garbage")
    http_server.add("/tail.bin", data)
    done, _ = run(http_server.url("/tail.bin"), tmp_path, state)
    assert Path(done.path).read_bytes() == data
    assert gets(http_server, "/tail.bin") == [None, f"bytes={CUT}-"]


@pytest.mark.skipif(os.name != "posix", reason="hard and symbolic links as a test sets them up")
@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_a_link_planted_as_the_part_is_never_written_through(
    http_server: TestServer, tmp_path: Path, link: str
) -> None:
    data = payload("ln", 400_000)
    dest = tmp_path / "dest"
    state = cut_once(http_server, "/ln.bin", data, dest)
    part = Path(str(state.part_path))
    outside = tmp_path / "precious.bin"
    outside.write_bytes(part.read_bytes())  # the very bytes recorded: only the link gives it away
    part.unlink()
    if link == "hard":
        os.link(outside, part)
    else:
        part.symlink_to(outside)
    http_server.add("/ln.bin", data)
    done, _ = run(http_server.url("/ln.bin"), dest, state)
    assert Path(done.path).read_bytes() == data
    assert outside.read_bytes() == data[:CUT] and os.stat(outside).st_nlink == 1
    assert gets(http_server, "/ln.bin") == [None, None]


# ---- a 206 that is not the rest of the same file -----------------------------------------------------------


def test_a_206_with_another_total_restarts_the_file(http_server: TestServer, tmp_path: Path) -> None:
    first, second = payload("t400", 400_000), payload("t300", 300_000)
    state = cut_once(http_server, "/t.bin", first, tmp_path, fixed_etag='"same"')
    http_server.add("/t.bin", second, fixed_etag='"same"')  # same validator, another size
    done, _ = run(http_server.url("/t.bin"), tmp_path, state)
    assert Path(done.path).read_bytes() == second  # not 150,000 old bytes and 150,000 new ones
    assert gets(http_server, "/t.bin") == [None, f"bytes={CUT}-", None]


def test_a_206_that_ends_short_of_the_total_is_not_appended(tmp_path: Path) -> None:
    data = payload("short206", 400_000)
    part = tmp_path / "raw.bin.part"
    part.write_bytes(data[:CUT])
    state = FileState("raw.bin", str(part), '"v"', len(data), CUT, hashlib.sha256(data[:CUT]).hexdigest())
    answer = (b'HTTP/1.1 206 Partial Content\r\nETag: "v"\r\nContent-Range: bytes 150000-199999/400000\r\n'
              b"Content-Length: 50000\r\n\r\n" + data[CUT:200_000])
    with RawServer(answer) as server, pytest.raises(TransferError) as error:
        run(server.url, tmp_path, state)
    assert error.value.message == "server sent part of the file when asked for all of it"
    assert part.read_bytes() == data[:CUT]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw.bin.part"]


def test_a_server_that_ignores_if_range_never_splices_two_versions(
    http_server: TestServer, tmp_path: Path
) -> None:
    old, new = payload("old", 400_000), payload("new", 400_000)
    state = cut_once(http_server, "/v.bin", old, tmp_path)
    http_server.add("/v.bin", new, ignore_if_range=True)  # a 206 of the new version to the old If-Range
    done, _ = run(http_server.url("/v.bin"), tmp_path, state)
    assert Path(done.path).read_bytes() == new
    assert gets(http_server, "/v.bin") == [None, f"bytes={CUT}-", None]


def test_a_416_to_a_request_for_the_whole_file_is_an_error_the_user_reads(tmp_path: Path) -> None:
    answer = b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */0\r\nContent-Length: 0\r\n\r\n"
    with RawServer(answer) as server, pytest.raises(TransferError) as error:
        run(server.url, tmp_path)
    assert error.value.message == "server answered HTTP 416 Requested Range Not Satisfiable"
    assert not error.value.retryable and list(tmp_path.iterdir()) == []


# ---- what a server declares ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [b"Content-Length: 99999999999999999999", b"Content-Length: 1152921504606846977"],
)
def test_an_impossible_length_is_refused_with_a_message(tmp_path: Path, header: bytes) -> None:
    with RawServer(b"HTTP/1.1 200 OK\r\n" + header + b"\r\n\r\nabc") as server, pytest.raises(
        TransferError
    ) as error:
        run(server.url, tmp_path)
    assert not error.value.retryable
    assert error.value.message.startswith("server declared a size of ")
    assert list(tmp_path.iterdir()) == []


# ---- cookies keep to their origin and their job ------------------------------------------------------------


def test_a_cookie_set_on_a_redirect_follows_it_on_the_same_origin(
    http_server: TestServer, tmp_path: Path
) -> None:
    http_server.add("/file.bin", b"members only")
    login = http_server.add("/login", b"", set_cookie="token=abc; Path=/",
                            redirect_to=http_server.url("/file.bin"))
    done, _ = run(login, tmp_path)
    assert Path(done.path).read_bytes() == b"members only"
    assert http_server.requests_for("/file.bin")[0].header("Cookie") == "token=abc"


def test_a_cookie_never_reaches_another_port_of_the_same_host(
    http_server: TestServer, tmp_path: Path
) -> None:
    with TestServer() as other:
        other.add("/file.bin", b"elsewhere")
        hop = http_server.add("/hop", b"", set_cookie="token=abc; Path=/", redirect_to=other.url("/file.bin"))
        run(hop, tmp_path)
        assert other.requests_for("/file.bin")[0].header("Cookie") is None


def test_a_cookie_set_over_https_never_goes_out_over_http(
    http_server: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(TLS_CA))  # trust the test server's certificate
    http_server.add("/plain.bin", b"downgraded")
    with TestServer(tls=True) as secure:
        start = secure.add("/secure", b"", set_cookie="token=abc; Path=/",
                           redirect_to=http_server.url("/plain.bin"))
        done, _ = run(start, tmp_path)
        assert len(secure.requests_for("/secure")) == 1
    assert Path(done.path).read_bytes() == b"downgraded"
    assert http_server.requests_for("/plain.bin")[0].header("Cookie") is None


def test_one_jobs_cookies_never_reach_the_next_job_of_the_same_worker(
    http_server: TestServer, tmp_path: Path
) -> None:
    first = http_server.add("/first.bin", b"1", set_cookie="token=first; Path=/")
    second = http_server.add("/second.bin", b"2")
    with Session("sequential") as session:
        session.add(parse_text(f"{first}\n{second}").entries, str(tmp_path))
        session.start()
        assert session.wait(30)
        assert {j.state for j in session.jobs()} == {JobState.DONE}
        assert len({j.worker for j in session.jobs()}) == 1  # one worker, one HTTP session, two jobs
    assert http_server.requests_for("/second.bin")[0].header("Cookie") is None


# ---- names -------------------------------------------------------------------------------------------


def test_jobs_racing_for_one_name_get_numbered_names_from_it(http_server: TestServer, tmp_path: Path) -> None:
    bodies = {f"/race{i}": payload(f"race{i}", 200_000 + i) for i in range(4)}
    urls = [http_server.add(p, d, cd='attachment; filename="same.bin"', rate=2_000_000)
            for p, d in bodies.items()]
    (tmp_path / "same (1).bin").write_bytes(b"already here")
    with Session("thread-pool", 4) as session:
        session.add(parse_text("\n".join(urls)).entries, str(tmp_path))
        session.start()
        assert session.wait(30)
        jobs = session.jobs()
    assert {j.state for j in jobs} == {JobState.DONE}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "same (1).bin", "same (2).bin", "same (3).bin", "same (4).bin", "same.bin"]
    assert (tmp_path / "same (1).bin").read_bytes() == b"already here"
    for job, body in zip(jobs, bodies.values(), strict=True):
        assert Path(str(job.path)).read_bytes() == body
