"""The screenshot command renders the window mid-run into a small PNG; main.py accepts its options."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from gui.screenshot import take_screenshot
from main import build_parser

pytestmark = pytest.mark.timeout(90)


def test_screenshot_renders_the_window_mid_run(tmp_path: Path) -> None:
    path = tmp_path / "shot.png"
    assert take_screenshot(str(path), "thread-pool", 2, seconds=2.0) == 0
    image = QImage(str(path))
    assert (image.width(), image.height()) == (1280, 800)
    assert path.stat().st_size < 200_000


def test_main_takes_the_window_options() -> None:
    args = build_parser().parse_args(["--screenshot", "x.png", "--mode", "process-pool", "--workers", "3"])
    assert (args.screenshot, args.mode, args.workers, args.command) == ("x.png", "process-pool", 3, None)
    assert build_parser().parse_args([]).command is None  # no subcommand: the window opens
