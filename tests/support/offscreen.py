"""The Qt platform the tests, benchmarks and screenshots run on: offscreen, with a desktop-sized screen."""

from __future__ import annotations

import json
from pathlib import Path

SCREEN = Path(__file__).with_name("offscreen_screen.json")
# Qt's offscreen screen is 800×800 unless told otherwise: a window there opens as on a small laptop.
PLATFORM = f"offscreen:configfile={SCREEN}"


def small_screen_platform(folder: Path, width: int, height: int) -> str:
    """An offscreen platform whose one screen is `width`×`height` (its config file is written in `folder`)."""
    config = folder / f"screen-{width}x{height}.json"
    screen = {"name": "small", "x": 0, "y": 0, "width": width, "height": height, "logicalDpi": 96,
              "logicalBaseDpi": 96, "dpr": 1}
    config.write_text(json.dumps({"screens": [screen]}))
    return f"offscreen:configfile={config}"
