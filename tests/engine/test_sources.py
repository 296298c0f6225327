"""Reading URL lists: separators, comments, checksums, duplicates and a reason for every bad line."""

from __future__ import annotations

import io
import sys

import pytest

from engine.sources import parse_text, read_sources

pytestmark = pytest.mark.timeout(10)
DIGEST = "ab" * 32


def test_urls_by_line_space_and_comma_with_comments_and_blank_lines() -> None:
    text = "# my list\n\nhttp://a.example/1  https://b.example/2,http://c.example/3\n  # indented comment\n"
    parsed = parse_text(text)
    assert [e.url for e in parsed.entries] == [
        "http://a.example/1",
        "https://b.example/2",
        "http://c.example/3",
    ]
    assert [e.line for e in parsed.entries] == [3, 3, 3]
    assert not parsed.rejected and not parsed.duplicates


def test_a_fragment_is_not_a_comment_but_a_trailing_hash_is() -> None:
    parsed = parse_text("http://a.example/page#top  # the page\n")
    assert [e.url for e in parsed.entries] == ["http://a.example/page#top"]


def test_sha256_after_a_url_is_attached_to_it() -> None:
    parsed = parse_text(f"http://a.example/f sha256={DIGEST.upper()}\nhttp://a.example/g")
    assert parsed.entries[0].sha256 == DIGEST
    assert parsed.entries[1].sha256 is None


def test_a_bad_checksum_rejects_only_its_own_url() -> None:
    parsed = parse_text("http://a.example/f sha256=1234\nhttp://a.example/g")
    assert [e.url for e in parsed.entries] == ["http://a.example/g"]
    assert parsed.rejected[0].line == 1
    assert "64 hexadecimal digits" in parsed.rejected[0].reason


def test_duplicates_are_reported_and_skipped() -> None:
    parsed = parse_text("http://a.example/1\nhttp://a.example/1\nhttp://a.example/2")
    assert [e.url for e in parsed.entries] == ["http://a.example/1", "http://a.example/2"]
    assert [(d.url, d.line) for d in parsed.duplicates] == [("http://a.example/1", 2)]
    assert parsed.summary() == "2 added, 1 duplicate skipped"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ftp://host/file", "unsupported scheme 'ftp:'"),
        ("file:///etc/passwd", "unsupported scheme 'file:'"),
        ("javascript:alert(1)", "unsupported scheme 'javascript:'"),
        ("http:///nohost", "no host name"),
        ("http://[::1/x", "malformed URL"),
        ("http://host:99999/x", "malformed URL"),
        ("www.example.com/x", "not a URL"),
    ],
)
def test_each_bad_entry_has_its_line_and_reason_and_the_rest_still_count(text: str, reason: str) -> None:
    parsed = parse_text(f"http://ok.example/1\n{text}\nhttp://ok.example/2")
    assert [e.url for e in parsed.entries] == ["http://ok.example/1", "http://ok.example/2"]
    assert len(parsed.rejected) == 1
    assert parsed.rejected[0].line == 2
    assert reason in parsed.rejected[0].reason
    assert f"2: {text!r}" in str(parsed.rejected[0])


def test_one_bad_line_in_500_loses_nothing_else() -> None:
    lines = [f"http://h.example/{i}" for i in range(500)]
    lines[250] = "gopher://h.example/x"
    parsed = parse_text("\n".join(lines))
    assert len(parsed.entries) == 499
    assert [r.line for r in parsed.rejected] == [251]


def test_list_files_stdin_and_arguments_merge_with_duplicates_across_them(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = tmp_path / "list.txt"  # type: ignore[operator]
    listing.write_text("http://a.example/1\nhttp://a.example/2\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO("http://a.example/2 http://a.example/3"))
    parsed = read_sources(["http://a.example/1"], [str(listing), "-"])
    assert [e.url for e in parsed.entries] == [
        "http://a.example/1",
        "http://a.example/2",
        "http://a.example/3",
    ]
    assert len(parsed.duplicates) == 2


def test_a_missing_list_file_is_reported() -> None:
    parsed = read_sources([], ["/nonexistent/list.txt"])
    assert "cannot read list file" in parsed.rejected[0].reason


def test_a_comma_inside_a_url_is_part_of_it_one_before_a_space_or_a_scheme_separates() -> None:
    parsed = parse_text("http://h.example/f/a,b.bin, http://h.example/c,http://h.example/d,\n")
    assert [e.url for e in parsed.entries] == [
        "http://h.example/f/a,b.bin", "http://h.example/c", "http://h.example/d"]


def test_each_argument_is_one_url_and_a_sha256_argument_belongs_to_the_one_before() -> None:
    parsed = read_sources(["http://h.example/a,b.bin", f"sha256={DIGEST}", "http://h.example/x y",
                           "sha256=12"])
    assert [(e.url, e.sha256) for e in parsed.entries] == [("http://h.example/a,b.bin", DIGEST)]
    assert [(r.text, r.line) for r in parsed.rejected] == [("http://h.example/x y", 3)]
    assert "64 hexadecimal digits" in parsed.rejected[0].reason
