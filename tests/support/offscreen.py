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
    settings = json.loads(SCREEN.read_text())  # the tests' screen, at another size
    settings["screens"][0].update(name=f"offscreen-{width}x{height}", width=width, height=height)
    config.write_text(json.dumps(settings))
    return f"offscreen:configfile={config}"
