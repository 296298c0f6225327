"""A URL's user:password reaches only the request that needs it: never output, logs, exports or the queue."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engine.credentials import redact, split_credentials
from engine.sources import parse_text
from engine.store import DB_NAME
from tests.support.fetching import fetch_once
from tests.support.http_server import TestServer, payload

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-pw"


def get(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", "get", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=50)


def with_login(url: str, userinfo: str = f"alice:{SECRET}") -> str:
    return url.replace("://", f"://{userinfo}@", 1)


@pytest.mark.parametrize(
    ("url", "shown", "kept"),
    [
        (f"http://alice:{SECRET}@h.example/f", "http://alice:***@h.example/f", f"alice:{SECRET}"),
        ("https://ghp_token@h.example/f", "https://***@h.example/f", "ghp_token"),
        ("http://a:p%40ss@h.example:8080/f?x=1", "http://a:***@h.example:8080/f?x=1", "a:p%40ss"),
        ("http://h.example/a@b", "http://h.example/a@b", None),
        ("http://alice:***@h.example/f", "http://alice:***@h.example/f", None),
    ],
)
def test_user_info_is_split_off_and_masked(url: str, shown: str, kept: str | None) -> None:
    assert split_credentials(url) == (shown, kept)
    assert redact(f"failed: {url} (twice)") == f"failed: {shown} (twice)"


def test_parsed_entries_and_refusals_carry_no_password_in_what_they_show() -> None:
    parsed = parse_text(f"http://alice:{SECRET}@h.example/f\nftp://bob:{SECRET}@h.example/x\n")
    (entry,) = parsed.entries
    assert entry.url == "http://alice:***@h.example/f" and entry.credentials == f"alice:{SECRET}"
    assert SECRET not in repr(entry) and SECRET not in repr(parsed)
    assert parsed.rejected[0].text == "ftp://bob:***@h.example/x" and SECRET not in str(parsed.rejected[0])


def test_get_logs_in_shows_only_the_masked_url_and_keeps_the_password_apart(
    http_server: TestServer, tmp_path: Path
) -> None:
    body = payload("private", 50_000)
    ok = with_login(http_server.add("/private.bin", body, auth=f"alice:{SECRET}"))
    missing = with_login(http_server.add("/missing.bin", b"", status=404))
    refused = f"ftp://alice:{SECRET}@127.0.0.1/x"
    data = tmp_path / "data"
    result = get(ok, missing, refused, "-d", str(tmp_path / "out"), "--data-dir", str(data), "--json")
    assert result.returncode == 1, result.stderr
    assert SECRET not in result.stdout and SECRET not in result.stderr
    jobs = json.loads(result.stdout)["jobs"]
    assert [(j["url"], j["state"]) for j in jobs] == [
        (http_server.url("/private.bin").replace("://", "://alice:***@"), "done"),
        (http_server.url("/missing.bin").replace("://", "://alice:***@"), "failed"),
        ("ftp://alice:***@127.0.0.1/x", "failed"),
    ]
    assert (tmp_path / "out" / "private.bin").read_bytes() == body
    assert f"failed    {jobs[1]['url']}  server answered HTTP 404 Not Found" in result.stderr
    assert "skipped argument:3: 'ftp://alice:***@127.0.0.1/x'" in result.stderr
    raw = sqlite3.connect(data / DB_NAME)
    try:
        urls = [row[0] for row in raw.execute("SELECT url FROM jobs")]
        kept = [row[0] for row in raw.execute("SELECT userinfo FROM credentials")]
    finally:
        raw.close()
    assert all(SECRET not in url and "alice:***@" in url for url in urls)
    assert kept == [f"alice:{SECRET}", f"alice:{SECRET}"]
    assert stat.S_IMODE((data / DB_NAME).stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_a_rerun_logs_in_again_from_the_stored_credentials(http_server: TestServer, tmp_path: Path) -> None:
    body = payload("again", 400_000)
    url = with_login(http_server.add("/again.bin", body, auth=f"alice:{SECRET}", truncate=100_000))
    args = ["-d", str(tmp_path / "out"), "--data-dir", str(tmp_path / "data"), "--attempts", "1"]
    assert get(url, *args).returncode == 1
    http_server.add("/again.bin", body, auth=f"alice:{SECRET}")
    masked = http_server.url("/again.bin").replace("://", "://alice:***@")
    again = get(masked, *args)  # the masked URL, as a person copies it from the output
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "out" / "again.bin").read_bytes() == body
    assert http_server.requests_for("/again.bin")[-1].header("Range") == "bytes=100000-"


def test_credentials_follow_a_redirect_on_their_origin_only(http_server: TestServer, tmp_path: Path) -> None:
    http_server.add("/inner.bin", b"same origin", auth=f"alice:{SECRET}")
    start = http_server.add("/start", b"", redirect_to=http_server.url("/inner.bin"))
    done, _ = fetch_once(start, tmp_path / "a", credentials=f"alice:{SECRET}")
    assert Path(done.path).read_bytes() == b"same origin"
    with TestServer() as other:
        other.add("/outer.bin", b"another port")
        away = http_server.add("/away", b"", redirect_to=other.url("/outer.bin"))
        done, _ = fetch_once(away, tmp_path / "b", credentials=f"alice:{SECRET}")
        assert other.requests_for("/outer.bin")[0].header("Authorization") is None
    assert http_server.requests_for("/away")[0].header("Authorization") is not None
