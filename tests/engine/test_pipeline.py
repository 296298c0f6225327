"""The pipeline: each finished download through the engine's CPU stage, at most one file per stage process;
verification, thumbnails of real image formats, cancel, and a stage switched off mid-run."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import psutil
import pytest
from PIL import Image

from engine.jobs import JobState
from engine.pipeline import DOWNLOAD_MODE
from engine.protocol import SessionStats
from engine.session import Session
from engine.sources import parse_text
from engine.stage import CANCELLED, StageConfig, StageStats, process_file
from engine.thumbnails import PREVIEW_SIDE, make_thumbnail
from tests.support.http_server import TestServer, payload
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


def stage_of(stats: SessionStats) -> StageStats:
    assert stats.stage is not None
    return stats.stage


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def grey16(width: int, height: int) -> Image.Image:
    """A 16-bit greyscale gradient (mode I;16), from black to nearly white."""
    picture = Image.new("I;16", (width, height))
    picture.putdata([x * 65535 // width for _ in range(height) for x in range(width)])
    return picture


def test_the_stage_takes_one_file_per_process_at_a_time_and_verifies_every_file(
    http_server: TestServer, tmp_path: Path
) -> None:
    files = {f"/p{i:02d}.bin": payload(f"p{i}", 4096 + i) for i in range(24)}
    urls = [http_server.add(path, data) for path, data in files.items()]
    # ~15 ms of CPU per file in one stage process: the stage is far slower than the downloads.
    with Session(DOWNLOAD_MODE, 8, stage=StageConfig(1, cpu_rounds=20_000)) as session:
        session.add(parse_text("\n".join(urls)).entries, str(tmp_path))
        session.start()
        assert session.wait(50)  # waits for the stage too
        stage = stage_of(session.stats())
        results = session.stage_results()
        assert {job.state for job in session.jobs()} == {JobState.DONE}
    assert (stage.processed, stage.busy, stage.failures, stage.max_in_flight) == (24, 0, 0, 1)
    assert stage.waits > 0, "no file ever waited for the stage: nothing was held back"
    assert stage.cpu_s > 0 and len(stage.pids) == 1
    assert all(r.verified and r.error is None for r in results)
    assert {Path(r.path).name: r.sha256 for r in results} == {
        path.lstrip("/"): hashlib.sha256(data).hexdigest() for path, data in files.items()
    }


def test_jpeg_and_16_bit_png_images_get_thumbnails_and_other_files_none(
    http_server: TestServer, tmp_path: Path
) -> None:
    urls = [
        http_server.add("/photo.jpg", encoded(Image.new("RGB", (600, 300), (200, 30, 40)), "JPEG")),
        http_server.add("/deep.png", encoded(grey16(100, 400), "PNG")),
        http_server.add("/clear.png", encoded(Image.new("RGBA", (50, 50), (0, 0, 255, 0)), "PNG")),
        http_server.add("/notes.txt", b"not a picture\n"),
    ]
    with Session(DOWNLOAD_MODE, 2, stage=StageConfig(1)) as session:
        session.add(parse_text("\n".join(urls)).entries, str(tmp_path))
        session.start()
        assert session.wait(50)
        thumbs = {Path(r.path).name: r.thumbnail for r in session.stage_results()}
    photo, deep, clear = thumbs["photo.jpg"], thumbs["deep.png"], thumbs["clear.png"]
    assert thumbs["notes.txt"] is None
    assert photo is not None and (photo.width, photo.height) == (PREVIEW_SIDE, PREVIEW_SIDE // 2)
    assert all(abs(a - b) <= 6 for a, b in zip(photo.mean_rgb, (200, 30, 40), strict=True))
    assert Image.open(io.BytesIO(photo.jpeg)).size == (PREVIEW_SIDE, PREVIEW_SIDE // 2)
    assert deep is not None and (deep.width, deep.height) == (PREVIEW_SIDE // 4, PREVIEW_SIDE)
    assert 110 <= deep.mean_rgb[0] <= 145  # the gradient's middle grey, not black or clipped white
    assert clear is not None and clear.mean_rgb == (255, 255, 255)  # transparent shows as white


def test_a_thumbnail_is_refused_for_damaged_and_oversized_images(tmp_path: Path) -> None:
    good = encoded(Image.new("RGB", (40, 30), (10, 200, 10)), "PNG")
    (tmp_path / "cut.png").write_bytes(good[:60])
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)  # claims 10 gigapixels
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    chunk = struct.pack(">I", len(header)) + b"IHDR" + header + crc
    (tmp_path / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk)
    (tmp_path / "fine.png").write_bytes(good)
    assert make_thumbnail(str(tmp_path / "cut.png")) is None
    assert make_thumbnail(str(tmp_path / "huge.png")) is None
    assert make_thumbnail(str(tmp_path / "missing.png")) is None
    fine = make_thumbnail(str(tmp_path / "fine.png"))
    assert fine is not None and (fine.width, fine.height) == (40, 30)


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
    http_server: TestServer, tmp_path: Path
) -> None:
    urls = [http_server.add(f"/c{i}.bin", payload(f"c{i}", 1000)) for i in range(4)]
    # Several seconds of CPU per file: without a working cancel this test would time out.
    session = Session(DOWNLOAD_MODE, 4, stage=StageConfig(2, cpu_rounds=20_000_000))
    session.add(parse_text("\n".join(urls)).entries, str(tmp_path))
    session.start()
    wait_until(lambda: session.stats().done == 4 and stage_of(session.stats()).max_in_flight >= 2,
               what="every file downloaded and two in the stage")  # a download cancelled never reaches it
    session.cancel()
    assert session.wait(10)
    results = session.stage_results()
    pids = {r.pid for r in results if r.pid}  # the processes that were stopped mid-file
    after = stage_of(session.stats())  # a fresh stage, with the settings asked for, takes the next files
    session.shutdown()
    assert len(results) == 4 and all(r.error == CANCELLED for r in results)
    assert (after.workers, after.busy, after.processed) == (2, 0, 0)
    assert pids  # at least one was busy: the check below is about real processes
    _, alive = psutil.wait_procs([psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)], timeout=5)
    assert alive == []


def test_a_stage_switched_off_mid_run_finishes_the_files_it_holds(
    http_server: TestServer, tmp_path: Path
) -> None:
    first = [http_server.add(f"/s{i}.bin", payload(f"s{i}", 2000)) for i in range(3)]
    later = [http_server.add(f"/t{i}.bin", payload(f"t{i}", 2000)) for i in range(2)]
    with Session(DOWNLOAD_MODE, 3, stage=StageConfig(1, cpu_rounds=500_000)) as session:  # ~0.5 s a file
        session.add(parse_text("\n".join(first)).entries, str(tmp_path))
        session.start()
        wait_until(lambda: session.stats().done == 3 and stage_of(session.stats()).busy > 0,
                   what="the three files downloaded and held by the stage")
        session.set_stage(None)
        assert session.stats().stage is None
        session.add(parse_text("\n".join(later)).entries, str(tmp_path))
        assert session.wait(30)
        results = session.stage_results()
        assert {job.state for job in session.jobs()} == {JobState.DONE}
    assert sorted(Path(r.path).name for r in results) == ["s0.bin", "s1.bin", "s2.bin"]
    assert all(r.verified for r in results)
