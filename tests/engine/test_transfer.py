"""One transfer against a real local server: bytes, resume, redirects, names, checksums and error kinds."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
import requests

from engine.errors import TransferError
from engine.events import Resolved, Task
from engine.http_client import new_http_session
from engine.transfer import FileState, Stopped, fetch_alone
from tests.support.fetching import fetch_once as run
from tests.support.http_server import TestServer, payload
from tests.support.raw_server import RawServer

pytestmark = pytest.mark.timeout(30)


def test_bytes_on_disk_equal_the_source_and_no_part_is_left(http_server: TestServer, tmp_path: Path) -> None:
    data = payload("a", 3 * 1024 * 1024 + 7)
    done, _ = run(http_server.add("/a.bin", data), tmp_path)
    assert Path(done.path).read_bytes() == data
    assert done.sha256 == hashlib.sha256(data).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_identity_encoding_is_asked_for(http_server: TestServer, tmp_path: Path) -> None:
    run(http_server.add("/e.txt", b"x" * 100), tmp_path)
    assert http_server.requests_for("/e.txt")[0].header("Accept-Encoding") == "identity"


def test_a_short_body_is_a_retryable_error_and_never_a_final_file(
    http_server: TestServer, tmp_path: Path
) -> None:
    url = http_server.add("/short.bin", payload("s", 100_000), truncate=40_000)
    with pytest.raises(TransferError) as error:
        run(url, tmp_path)
    assert error.value.retryable
    assert "40000" in error.value.message.replace(",", "") or "39.1 KiB" in error.value.message
    assert not (tmp_path / "short.bin").exists()
    assert (tmp_path / "short.bin.part").stat().st_size == 40_000


def test_resume_after_a_cut_uses_range_and_if_range(http_server: TestServer, tmp_path: Path) -> None:
    data = payload("r", 500_000)
    url = http_server.add("/r.bin", data, reset=200_000)
    state = FileState()
    with pytest.raises(TransferError):
        run(url, tmp_path, state)
    kept = Path(str(state.part_path)).stat().st_size  # what arrived before the reset
    assert 0 < kept <= 200_000
    http_server.add("/r.bin", data)  # the server recovers, same content and validator
    done, events = run(url, tmp_path, state)
    assert Path(done.path).read_bytes() == data
    second = http_server.requests_for("/r.bin")[-1]
    assert second.header("Range") == f"bytes={kept}-"
    assert second.header("If-Range") == state.validator
    assert any(isinstance(e, Resolved) and e.offset == kept for e in events)
    assert http_server.bytes_sent("/r.bin") < len(data) + 100_000


def test_pause_keeps_the_part_and_resume_finishes_byte_identical(
    http_server: TestServer, tmp_path: Path
) -> None:
    data = payload("p", 2_000_000)
    url = http_server.add("/p.bin", data, rate=4_000_000)
    state = FileState()
    with pytest.raises(Stopped):
        run(url, tmp_path, state, stop_after=300_000)
    kept = Path(str(state.part_path)).stat().st_size
    assert 0 < kept < len(data)
    done, _ = run(url, tmp_path, state)
    assert Path(done.path).read_bytes() == data
    assert http_server.requests_for("/p.bin")[-1].header("Range") == f"bytes={kept}-"


def test_a_200_to_a_range_request_restarts_instead_of_appending(
    http_server: TestServer, tmp_path: Path
) -> None:
    data = payload("i", 300_000)
    url = http_server.add("/i.bin", data, truncate=100_000, ignore_range=True)
    state = FileState()
    with pytest.raises(TransferError):
        run(url, tmp_path, state)
    http_server.add("/i.bin", data, ignore_range=True)
    done, _ = run(url, tmp_path, state)
    assert Path(done.path).read_bytes() == data


def test_a_changed_file_is_fetched_again_not_spliced(http_server: TestServer, tmp_path: Path) -> None:
    old, new = payload("old", 300_000), payload("new", 300_000)
    url = http_server.add("/c.bin", old, truncate=100_000)
    state = FileState()
    with pytest.raises(TransferError):
        run(url, tmp_path, state)
    http_server.add("/c.bin", new)
    done, _ = run(url, tmp_path, state)
    assert Path(done.path).read_bytes() == new


def test_a_416_is_checked_not_trusted(http_server: TestServer, tmp_path: Path) -> None:
    data, other = payload("w", 200_000), payload("other", 250_000)
    part = tmp_path / "w.bin.part"
    part.write_bytes(other)  # longer than the file: the server answers 416
    url = http_server.add("/w.bin", data, wrong_range_total=True)
    etag = requests.head(url, timeout=5).headers["ETag"]
    state = FileState("w.bin", str(part), etag, None, len(other), hashlib.sha256(other).hexdigest())
    done, _ = run(url, tmp_path, state)
    assert Path(done.path).read_bytes() == data
    ranges = [r.header("Range") for r in http_server.requests_for("/w.bin") if r.method == "GET"]
    assert ranges == [f"bytes={len(other)}-", None]


def test_redirects_are_followed_up_to_ten(http_server: TestServer, tmp_path: Path) -> None:
    data = payload("d", 1000)
    done, _ = run(http_server.add("/d.bin", data, redirect=10), tmp_path)
    assert Path(done.path).read_bytes() == data
    with pytest.raises(TransferError) as error:
        run(http_server.add("/d11.bin", data, redirect=11), tmp_path)
    assert not error.value.retryable and "redirects" in error.value.message


def test_a_redirect_to_another_scheme_is_refused(http_server: TestServer, tmp_path: Path) -> None:
    with pytest.raises(TransferError) as error:
        run(http_server.add("/f.bin", b"x", redirect_to="ftp://127.0.0.1/f.bin"), tmp_path)
    assert not error.value.retryable and "unsupported scheme" in error.value.message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ('attachment; filename="../../x"', "x"),
        ('attachment; filename="/etc/passwd"', "passwd"),
        ('attachment; filename="..\\\\x"', "x"),
        ('attachment; filename="C:x"', "C_x"),
        ('attachment; filename="CON"', "_CON"),
        ("attachment; filename*=UTF-8''na%C3%AFve.txt; filename=\"naive.txt\"", "naïve.txt"),
        ('attachment; filename=""', "cd.bin"),
    ],
)
def test_content_disposition_names_stay_inside_the_folder(
    http_server: TestServer, tmp_path: Path, disposition: str, expected: str
) -> None:
    dest = tmp_path / "dest"
    done, _ = run(http_server.add("/cd.bin", b"payload", cd=disposition), dest)
    assert Path(done.path) == dest / expected
    assert [p.name for p in tmp_path.iterdir()] == ["dest"]
    assert [p.name for p in dest.iterdir()] == [expected]


def test_control_characters_and_a_400_byte_name_are_made_safe(
    http_server: TestServer, tmp_path: Path
) -> None:
    long_name = "n" * 400 + ".bin"
    done, _ = run(http_server.add("/" + long_name, b"long"), tmp_path)
    assert len(Path(done.path).name.encode()) <= 255 and Path(done.path).parent == tmp_path
    done, _ = run(http_server.add("/ctl.bin", b"ctl", cd='attachment; filename="a\tb\x01c.txt"'), tmp_path)
    assert Path(done.path).name == "a_b_c.txt"


def test_an_empty_path_gets_the_default_name(http_server: TestServer, tmp_path: Path) -> None:
    http_server.add("/", b"index")
    done, _ = run(http_server.base_url + "/", tmp_path)
    assert Path(done.path).name == "download"


def test_a_taken_name_is_never_overwritten(http_server: TestServer, tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_bytes(b"mine")
    url = http_server.add("/t.txt", b"theirs")
    first, _ = run(url, tmp_path)
    second, _ = run(url, tmp_path)
    assert (tmp_path / "t.txt").read_bytes() == b"mine"
    assert (Path(first.path).name, Path(second.path).name) == ("t (1).txt", "t (2).txt")


def test_a_checksum_mismatch_leaves_no_file_and_says_so(http_server: TestServer, tmp_path: Path) -> None:
    data = payload("h", 10_000)
    url = http_server.add("/h.bin", data)
    with pytest.raises(TransferError) as error:
        run(url, tmp_path, sha256="0" * 64)
    assert not error.value.retryable and "checksum mismatch" in error.value.message
    assert list(tmp_path.iterdir()) == []
    done, _ = run(url, tmp_path, sha256=hashlib.sha256(data).hexdigest())
    assert Path(done.path).read_bytes() == data


@pytest.mark.parametrize(
    ("status", "retryable", "words"),
    [
        (404, False, "404 Not Found"),
        (403, False, "403 Forbidden"),
        (410, False, "410 Gone"),
        (500, True, "500 Internal Server Error"),
        (503, True, "503 Service Unavailable"),
        (429, True, "429 Too Many Requests"),
    ],
)
def test_status_errors_have_a_kind_and_a_plain_message(
    http_server: TestServer, tmp_path: Path, status: int, retryable: bool, words: str
) -> None:
    with pytest.raises(TransferError) as error:
        run(http_server.add(f"/s{status}", b"x", status=status), tmp_path)
    assert error.value.retryable is retryable
    assert words in error.value.message
    assert list(tmp_path.iterdir()) == []


def test_retry_after_is_read_from_the_answer(http_server: TestServer, tmp_path: Path) -> None:
    with pytest.raises(TransferError) as error:
        run(http_server.add("/busy", b"x", status=503, retry_after="7"), tmp_path)
    assert error.value.retry_after == 7


def test_a_refused_connection_is_retryable(tmp_path: Path) -> None:
    server = TestServer().start()
    url = server.url("/gone")
    server.stop()
    with pytest.raises(TransferError) as error:
        run(url, tmp_path)
    assert error.value.retryable and "refused" in error.value.message


def test_a_body_longer_than_declared_is_cut_at_the_declared_length(
    http_server: TestServer, tmp_path: Path
) -> None:
    data = payload("x", 50_000)
    done, _ = run(http_server.add("/x.bin", data, extra=5000), tmp_path)
    assert Path(done.path).read_bytes() == data


def test_no_content_length_still_finishes(http_server: TestServer, tmp_path: Path) -> None:
    data = payload("n", 70_000)
    done, _ = run(http_server.add("/n.bin", data, no_length=True), tmp_path)
    assert Path(done.path).read_bytes() == data


def test_an_unwritable_folder_is_a_permanent_error(http_server: TestServer, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    url = http_server.add("/u.bin", b"x")
    with pytest.raises(TransferError) as error, new_http_session() as http:
        fetch_alone(Task(1, url, str(blocker / "sub")), FileState(), http, lambda: None, lambda e: None)
    assert not error.value.retryable and "destination folder" in error.value.message
    assert http_server.requests_for("/u.bin") == []


def test_a_huge_header_block_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    headers = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 100) for i in range(500))
    server = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + headers + b"\r\nok")
    try:
        with pytest.raises(TransferError) as error:
            run(server.url, tmp_path)
    finally:
        server.close()
    assert not error.value.retryable and "oversized header block" in error.value.message
    assert list(tmp_path.iterdir()) == []


def test_a_server_that_stalls_below_the_minimum_speed_is_retried(
    http_server: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.transfer

    monkeypatch.setattr(engine.transfer, "LOW_SPEED_TIME", 0.5)
    monkeypatch.setattr(engine.transfer, "LOW_SPEED_LIMIT", 64 * 1024)
    url = http_server.add("/crawl.bin", payload("crawl", 200_000), rate=8 * 1024)
    with pytest.raises(TransferError) as error:
        run(url, tmp_path)
    assert error.value.retryable and "server too slow" in error.value.message
    assert (tmp_path / "crawl.bin.part").stat().st_size > 0
    assert not (tmp_path / "crawl.bin").exists()


def test_checkpoints_report_only_fsynced_bytes_as_durable(
    http_server: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.transfer
    from engine.events import Progress

    monkeypatch.setattr(engine.transfer, "CHECKPOINT_EVERY", 0.2)
    data = payload("cp", 400_000)
    _, events = run(http_server.add("/cp.bin", data, rate=400_000), tmp_path)
    reports = [e for e in events if isinstance(e, Progress)]
    assert all(r.durable <= r.bytes_done for r in reports)
    assert (
        len({r.durable for r in reports if 0 < r.durable < len(data)}) >= 2
    )  # several checkpoints on the way
    assert (tmp_path / "cp.bin").read_bytes() == data  # the rest made durable by the commit


def test_a_large_file_is_hashed_and_checkpointed_off_the_receive_loop(
    http_server: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.transfer
    from engine.digester import INLINE_BYTES
    from engine.events import Progress

    monkeypatch.setattr(engine.transfer, "CHECKPOINT_EVERY", 0.2)
    data = payload("big", 3 * INLINE_BYTES + 11)
    url = http_server.add("/big.bin", data, rate=20_000_000)
    done, events = run(url, tmp_path, sha256=hashlib.sha256(data).hexdigest())
    assert Path(done.path).read_bytes() == data
    assert done.sha256 == hashlib.sha256(data).hexdigest()
    durable = [e.durable for e in events if isinstance(e, Progress)]
    assert durable == sorted(durable)
    assert any(INLINE_BYTES < d < len(data) for d in durable)  # checkpoints made by the helper thread


def test_a_large_file_resumed_after_a_cut_has_the_right_checksum(
    http_server: TestServer, tmp_path: Path
) -> None:
    from engine.digester import INLINE_BYTES

    data = payload("cut", 3 * INLINE_BYTES)
    sha = hashlib.sha256(data).hexdigest()
    url = http_server.add("/cut.bin", data, reset=2 * INLINE_BYTES)
    state = FileState()
    with pytest.raises(TransferError):
        run(url, tmp_path, state, sha256=sha)
    assert Path(str(state.part_path)).stat().st_size > INLINE_BYTES
    http_server.add("/cut.bin", data)
    done, _ = run(url, tmp_path, state, sha256=sha)
    assert Path(done.path).read_bytes() == data
    assert done.sha256 == sha


def test_requests_reads_the_environment_only_when_it_has_http_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from engine.http_client import environment_has_http_settings

    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not new_http_session().trust_env
    monkeypatch.setenv("https_proxy", "http://proxy.invalid:3128")
    assert environment_has_http_settings()
    assert new_http_session().trust_env


def test_the_proxy_settings_read_once_still_apply_to_every_request_and_host(
    monkeypatch: pytest.MonkeyPatch, http_server: TestServer
) -> None:
    url = http_server.add("/via.bin", b"v" * 1000)
    with socket.socket() as closed:  # a port with nobody listening: a "proxy" that refuses
        closed.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("http_proxy", dead_proxy)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with new_http_session() as http:
        for _ in range(2):  # the second request finds the settings remembered, proxy and all
            with pytest.raises(requests.exceptions.ProxyError):
                http.get(url, timeout=5)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with new_http_session() as http:
        for _ in range(2):
            assert http.get(url, timeout=5).content == b"v" * 1000


def test_a_netrc_login_is_read_once_and_still_sent_on_every_request_to_its_host(
    monkeypatch: pytest.MonkeyPatch, http_server: TestServer, tmp_path: Path
) -> None:
    body = payload("netrc", 5000)
    url = http_server.add("/members.bin", body, auth="alice:n3trc-pw")
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login alice password n3trc-pw\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NETRC", raising=False)
    with new_http_session() as http:
        assert http.trust_env
        for _ in range(2):  # the second request finds the login remembered
            assert http.get(url, timeout=5).content == body
    netrc.unlink()
    with new_http_session() as http:
        assert http.get(url, timeout=5).status_code == 401
