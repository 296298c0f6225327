"""The screenshot tool renders the window mid-run into a small PNG; main.py accepts the window's options."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from main import build_parser
from tests.support.screenshots import take_screenshot

pytestmark = pytest.mark.timeout(90)


def test_screenshot_renders_the_window_mid_run(tmp_path: Path) -> None:
    path = tmp_path / "shot.png"
    assert take_screenshot(str(path), "thread-pool", 2, seconds=2.0) == 0
    image = QImage(str(path))
    assert (image.width(), image.height()) == (1280, 800)
    assert path.stat().st_size < 200_000
    colours = {image.pixel(x, y) for x in range(0, 1280, 16) for y in range(0, 800, 16)}
    assert len(colours) > 20  # the window, its rows and pictures: not a blank or one-colour image


def test_main_takes_the_window_options() -> None:
    args = build_parser().parse_args(["--mode", "process-pool", "--workers", "3"])
    assert (args.mode, args.workers, args.command) == ("process-pool", 3, None)
    assert build_parser().parse_args([]).command is None  # no subcommand: the window opens
