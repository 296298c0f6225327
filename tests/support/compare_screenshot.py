"""Renders the Compare view after a run over a local latency-bound list at 1280x800 and saves it as a PNG."""

from __future__ import annotations

import os
import sys

from engine.modes import MODES
from engine.pipeline import PIPELINE
from tests.support.screenshots import SIZE, demo_window, save_png, wait

FILES = 24
LATENCY_S = 0.1
WORKERS = 8
RUN_LIMIT_S = 120.0


def take_compare_screenshot(path: str) -> int:
    """Compare every mode and the pipeline on 24 small files that each wait 100 ms; returns 0 on success."""
    from tests.support.http_server import payload  # the checkout's test server: local only

    with demo_window("thread-pool", WORKERS) as (window, server):
        urls = [server.add(f"/reports/day-{i:02d}.json", payload(f"r{i}", 48_000 + 997 * i),
                           latency=LATENCY_S) for i in range(FILES)]
        window.add_text("\n".join(urls))
        for _ in range(100):  # the rows come with the engine's next snapshot
            if window.model.rowCount() == FILES:
                break
            wait(0.05)
        dialog = window.compare.open()
        for mode in [*MODES, PIPELINE]:
            dialog.mode_checks[mode].setChecked(True)
        dialog.workers_box.setValue(WORKERS)
        dialog.resize(*SIZE)
        if not dialog.run():
            print(f"parafetch: the comparison did not start: {dialog.progress.text()}", file=sys.stderr)
            return 1
        for _ in range(int(RUN_LIMIT_S * 10)):
            if dialog.report is not None:
                break
            wait(0.1)
        wait(0.3)
        if dialog.report is None:
            print(f"parafetch: the comparison did not finish in {RUN_LIMIT_S:.0f} s", file=sys.stderr)
            return 1
        if not save_png(dialog.grab().toImage(), path):
            return 1
    print(f"{path}: {SIZE[0]}x{SIZE[1]}, {os.path.getsize(path) // 1024} KiB")
    return 0

if __name__ == "__main__":
    sys.exit(take_compare_screenshot(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot-compare.png"))
