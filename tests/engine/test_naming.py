"""File names: Content-Disposition parsing, sanitising, and never writing outside or over anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.naming import (
    DEFAULT_NAME,
    NameTaken,
    choose_name,
    commit_part,
    disposition_filename,
    free_name,
    numbered,
    sanitize,
    unnumbered,
)

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../x", "x"),
        ("/etc/passwd", "passwd"),
        ("..\\x", "x"),
        ("C:x", "C_x"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("LPT1", "_LPT1"),
        ("a\x00b\x1fc\x7f", "a_b_c_"),
        ("", DEFAULT_NAME),
        (".", DEFAULT_NAME),
        ("..", DEFAULT_NAME),
        ("...", DEFAULT_NAME),
        (".hidden", "hidden"),
        ("trailing. ", "trailing"),
        ('what?<are>*"these"|', "what__are___these__"),
    ],
)
def test_sanitize_gives_a_safe_base_name(raw: str, expected: str) -> None:
    assert sanitize(raw) == expected


def test_a_400_byte_name_is_cut_to_fit_with_its_extension_kept() -> None:
    name = sanitize("é" * 200 + ".tar")
    assert len(name.encode("utf-8")) <= 255
    assert name.endswith(".tar")
    name.encode("utf-8").decode("utf-8")  # no half character left at the cut


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('attachment; filename="report.pdf"', "report.pdf"),
        ("attachment; filename*=UTF-8''na%C3%AFve%20file.txt; filename=\"naive.txt\"", "naïve file.txt"),
        ("attachment; filename=\"naive.txt\"; filename*=UTF-8''na%C3%AFve.txt", "naïve.txt"),
        ("attachment; filename=plain.bin", "plain.bin"),
        ('attachment; filename="quoted \\"name\\".txt"', 'quoted "name".txt'),
        ("attachment", None),
        (None, None),
    ],
)
def test_disposition_filename_prefers_filename_star(header: str | None, expected: str | None) -> None:
    assert disposition_filename(header) == expected


def test_choose_name_falls_back_to_the_decoded_url_path() -> None:
    assert choose_name(None, "http://h/dir/my%20photo.jpg?size=2") == "my photo.jpg"
    assert choose_name(None, "http://h/") == DEFAULT_NAME
    assert choose_name('attachment; filename="../../etc/passwd"', "http://h/x") == "passwd"


@pytest.mark.parametrize(
    "header",
    ['attachment; filename=".."', 'attachment; filename="."', 'attachment; filename="\x01\x02\x7f"',
     "attachment; filename*=UTF-8''%01%0A%1F", 'attachment; filename="  ..  "'],
)
def test_an_unusable_server_name_falls_back_to_the_url_name_not_the_default(header: str) -> None:
    assert choose_name(header, "http://h/files/report.pdf") == "report.pdf"


def test_numbered_names_keep_the_extension() -> None:
    assert numbered("a.txt", 0) == "a.txt"
    assert numbered("a.txt", 2) == "a (2).txt"
    assert numbered("README", 1) == "README (1)"


def test_a_free_name_skips_files_parts_and_names_held_by_other_jobs(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("mine")
    (tmp_path / "a (1).txt.part").write_text("partial")
    assert free_name(tmp_path, "a.txt", {"a (2).txt"}) == "a (3).txt"
    assert free_name(tmp_path, "b.txt", set()) == "b.txt"


def test_commit_never_overwrites_and_says_when_the_name_was_taken(tmp_path: Path) -> None:
    part = tmp_path / "b.bin.part"
    part.write_bytes(b"downloaded")
    (tmp_path / "b.bin").write_bytes(b"someone else's")
    with pytest.raises(NameTaken):
        commit_part(part, tmp_path / "b.bin")
    assert (tmp_path / "b.bin").read_bytes() == b"someone else's"
    commit_part(part, tmp_path / "b (1).bin")
    assert (tmp_path / "b (1).bin").read_bytes() == b"downloaded" and not part.exists()


def test_a_commit_cut_between_link_and_unlink_finishes_without_a_twin(tmp_path: Path) -> None:
    part = tmp_path / "c.bin.part"
    part.write_bytes(b"complete")
    os.link(part, tmp_path / "c.bin")  # what a crash right after the link leaves
    commit_part(part, tmp_path / "c.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.bin"]


def test_unnumbered_gives_back_the_name_to_number_afresh() -> None:
    assert unnumbered("same (1).bin") == "same.bin"
    assert unnumbered("same (12)") == "same"
    assert unnumbered("plain.bin") == "plain.bin"
    assert numbered(unnumbered("same (1).bin"), 2) == "same (2).bin"


@pytest.mark.skipif(os.name != "posix", reason="symlinks need privileges on Windows")
def test_a_symlink_at_the_target_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    folder = tmp_path / "dest"
    folder.mkdir()
    (folder / "c.txt").symlink_to(outside)
    (folder / "c.txt.part").symlink_to(outside)
    name = free_name(folder, "c.txt", set())
    assert name == "c (1).txt"
    part = folder / f"{name}.part"
    part.write_text("downloaded")
    with pytest.raises(NameTaken):
        commit_part(part, folder / "c.txt")
    commit_part(part, folder / name)
    assert outside.read_text() == "precious"
