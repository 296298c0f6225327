"""The pipeline option: back-pressure through a bounded queue, verification, thumbnails, cancel."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.jobs import JobState
from engine.pipeline import Pipeline
from engine.sources import parse_text
from engine.stage import process_file
from engine.thumbnails import thumbnail
from tests.support.http_server import TestServer, payload
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def pipelines() -> Iterator[list[Pipeline]]:
    made: list[Pipeline] = []
    yield made
    for pipeline in made:
        pipeline.shutdown()


def start(pipeline: Pipeline, urls: list[str], dest: Path, made: list[Pipeline]) -> Pipeline:
    made.append(pipeline)
    pipeline.add(parse_text("\n".join(urls)).entries, str(dest))
    pipeline.start()
    return pipeline


def _filter(kind: int, row: bytes, up: bytes, bpp: int) -> bytes:
    """The PNG encoder's side of a row filter, written out plainly."""
    out = bytearray()
    for i, value in enumerate(row):
        left, above = row[i - bpp] if i >= bpp else 0, up[i]
        corner = up[i - bpp] if i >= bpp else 0
        p = left + above - corner
        paeth = min((abs(p - left), 0, left), (abs(p - above), 1, above), (abs(p - corner), 2, corner))[2]
        predict = (0, left, above, (left + above) // 2, paeth)[kind]
        out.append((value - predict) & 255)
    return bytes(out)


def png(width: int, height: int, channels: int, rows: list[bytes]) -> bytes:
    """An 8-bit PNG whose rows cycle through all five filters."""
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw, up = bytearray(), bytes(width * channels)
    for y, row in enumerate(rows):
        raw += bytes([y % 5]) + _filter(y % 5, row, up, channels)
        up = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def gradient(width: int, height: int) -> list[bytes]:
    pixel = lambda x, y: (x * 6 % 256, y * 8 % 256, x * y % 256)  # noqa: E731
    return [bytes(v for x in range(width) for v in pixel(x, y)) for y in range(height)]


def test_the_stage_never_holds_more_than_its_bound_and_verifies_every_file(
    http_server: TestServer, tmp_path: Path, pipelines: list[Pipeline]
) -> None:
    files = {f"/p{i:02d}.bin": payload(f"p{i}", 4096 + i) for i in range(24)}
    urls = [http_server.add(path, data) for path, data in files.items()]
    # ~15 ms of CPU per file in one stage process: the stage is far slower than the downloads.
    pipeline = start(Pipeline(8, stage_workers=1, queue_size=2, cpu_rounds=20_000), urls, tmp_path, pipelines)
    assert pipeline.wait(50)
    assert pipeline.bound == 3
    assert pipeline.feeder_waits > 0, "the queue never filled: no back-pressure was exercised"
    assert pipeline.max_in_flight == pipeline.bound
    results = pipeline.results()
    assert all(r.verified and r.error is None for r in results)
    assert {Path(r.path).name: r.sha256 for r in results} == {
        path.lstrip("/"): hashlib.sha256(data).hexdigest() for path, data in files.items()
    }
    assert pipeline.stage_cpu_s > 0 and pipeline.stage_failures == 0


def test_images_get_a_thumbnail_and_other_files_none(
    http_server: TestServer, tmp_path: Path, pipelines: list[Pipeline]
) -> None:
    rows = gradient(40, 30)
    ppm_rows = gradient(20, 10)
    urls = [
        http_server.add("/picture.png", png(40, 30, 3, rows)),
        http_server.add("/picture.ppm", b"P6\n20 10\n255\n" + b"".join(ppm_rows)),
        http_server.add("/notes.txt", b"not a picture\n"),
    ]
    pipeline = start(Pipeline(2, stage_workers=1), urls, tmp_path, pipelines)
    assert pipeline.wait(50)
    changed = pipeline.changes()  # the feeder reads the session's changes; they reach the caller here
    assert len(changed.jobs) == 3 and {job.state for job in changed.jobs} == {JobState.DONE}
    assert pipeline.changes().jobs == []
    thumbs = {Path(r.path).name: r.thumbnail for r in pipeline.results()}
    picture, ppm = thumbs["picture.png"], thumbs["picture.ppm"]
    assert thumbs["notes.txt"] is None
    assert picture is not None and (picture.width, picture.height) == (16, 12)
    assert len(picture.grey) == 16 * 12
    means = tuple(round(sum(sum(row[c::3]) for row in rows) / (40 * 30)) for c in range(3))
    assert picture.mean_rgb == means
    assert picture.grey[0] == (299 * rows[0][0] + 587 * rows[0][1] + 114 * rows[0][2]) // 1000
    assert ppm is not None and (ppm.width, ppm.height) == (16, 8)
    assert ppm.mean_rgb == tuple(round(sum(sum(r[c::3]) for r in ppm_rows) / 200) for c in range(3))


def test_thumbnail_decodes_grey_and_rgba_and_refuses_what_it_cannot_read() -> None:
    grey = [bytes((x + y) % 256 for x in range(8)) for y in range(8)]
    small = thumbnail(png(8, 8, 1, grey))
    assert small is not None and (small.width, small.height) == (8, 8)
    assert small.grey == b"".join(grey)
    rgba = [bytes(v for _ in range(4) for v in (255, 0, 0, 128)) for _ in range(2)]
    red = thumbnail(png(4, 2, 4, rgba))
    assert red is not None and red.mean_rgb == (255, 0, 0)
    sixteen_bit = png(8, 8, 1, grey).replace(struct.pack(">IIB", 8, 8, 8), struct.pack(">IIB", 8, 8, 16), 1)
    assert thumbnail(sixteen_bit) is None
    assert thumbnail(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20) is None
    assert thumbnail(b"P6\n4 4\n65535\n" + b"\x00" * 96) is None


def test_a_file_that_changed_on_disk_fails_verification(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"what was downloaded")
    good = process_file(1, str(path), hashlib.sha256(b"what was downloaded").hexdigest())
    assert good.verified and good.error is None and good.thumbnail is None
    path.write_bytes(b"something else")
    bad = process_file(1, str(path), hashlib.sha256(b"what was downloaded").hexdigest())
    assert not bad.verified and bad.error == "the file on disk differs from what was downloaded"
    gone = process_file(1, str(tmp_path / "missing.bin"), None)
    assert not gone.verified and gone.error is not None and "cannot read" in gone.error


def test_cancel_stops_a_busy_stage_at_once_and_leaves_no_process(
    http_server: TestServer, tmp_path: Path, pipelines: list[Pipeline]
) -> None:
    urls = [http_server.add(f"/c{i}.bin", payload(f"c{i}", 1000)) for i in range(4)]
    # Several seconds of CPU per file: without a working cancel this test would time out.
    pipeline = start(Pipeline(4, stage_workers=2, cpu_rounds=20_000_000), urls, tmp_path, pipelines)
    wait_until(lambda: pipeline.max_in_flight >= 2, what="files handed to the stage")
    pipeline.cancel()
    assert pipeline.wait(10)
    pipeline.shutdown()
    assert all(not r.verified for r in pipeline.results())
