"""What the whole app costs in memory with a long queue: the window and its engine with N jobs queued.

Opens the window (offscreen unless a display is set) with a data folder, adds N URLs without starting
them, waits until every row is shown and the engine has stored them, then reads the RSS and USS of the
window's process and of each of its children (psutil). Goal: under 200 MB RSS for the whole app at 10,000.

    .venv/bin/python benchmarks/window_memory.py [--jobs 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.offscreen import PLATFORM

os.environ.setdefault("QT_QPA_PLATFORM", PLATFORM)

import psutil

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

MIB = 1 << 20
GOAL_MB = 200


def wait_for(app: QApplication, done: Callable[[], bool], timeout: float) -> bool:
    """Run the event loop until `done()` holds or `timeout` seconds pass."""
    from PySide6.QtCore import QEventLoop

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if done():
            return True
    return False


def measure(jobs: int) -> int:
    # Qt and the window are imported here, not at the top: the engine host is spawned, and a spawned
    # process imports the main module again (main.py is as light as this module's top).
    from PySide6.QtCore import QSettings

    from engine.workers import stop_process_helpers
    from gui.app import create_app
    from gui.main_window import MainWindow

    app = create_app([sys.argv[0]])
    with tempfile.TemporaryDirectory(prefix="parafetch-memory-") as folder:
        window = MainWindow(QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat),
                            mode="thread-pool", workers=8, data_dir=Path(folder) / "data")
        window.confirm_close = False
        window.input.set_folder(str(Path(folder) / "files"))
        window.resize(1280, 800)
        window.show()
        wait_for(app, lambda: window.bridge.ticks > 0, 30)
        # A closed port on loopback: nothing is fetched, since the run is never started.
        window.add_text("\n".join(f"http://127.0.0.1:9/queued/file-{i:05d}.bin" for i in range(jobs)))
        shown = wait_for(app, lambda: window.model.rowCount() == jobs
                         and window.bridge.stats.queued == jobs, 120)
        wait_for(app, lambda: False, 2.0)  # the engine's group commit and the next snapshots
        me = psutil.Process()
        rows = [("window", me)] + [("engine and helpers", child) for child in me.children(recursive=True)]
        total = shared_fairly = 0
        print(f"The window with {jobs} queued jobs ({'all shown' if shown else 'NOT all shown'}):")
        for role, process in rows:
            info = process.memory_full_info()
            pss = getattr(info, "pss", info.uss)  # Linux: shared pages counted once, split between sharers
            total, shared_fairly = total + info.rss, shared_fairly + pss
            print(f"  {role:20s} pid {process.pid:7d}  RSS {info.rss / MIB:7.1f} MiB  "
                  f"USS {info.uss / MIB:7.1f} MiB  PSS {pss / MIB:7.1f} MiB")
        verdict = "met" if total < GOAL_MB * 1e6 else "MISSED"
        print(f"  whole app: RSS summed {total / MIB:.1f} MiB = {total / 1e6:.1f} MB "
              f"(goal: under {GOAL_MB} MB: {verdict}), PSS summed {shared_fairly / MIB:.1f} MiB "
              "(what the app adds to the machine)")
        window.close()
        wait_for(app, lambda: window.is_shut_down, 30)
        stop_process_helpers()
    return 0 if shown and total < GOAL_MB * 1_000_000 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    return measure(parser.parse_args().jobs)


if __name__ == "__main__":
    sys.exit(main())
