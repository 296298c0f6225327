"""The engine must stay Qt-free: importing every engine module pulls in no Qt binding."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import engine

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_whole_engine_loads_no_qt() -> None:
    modules = [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")]
    assert "engine.session" in modules and "engine.modes.process_pool" in modules
    probe = (
        "import importlib, sys\n"
        "QT = ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'qtpy')\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in QT)\n"
        "print(','.join(qt))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=50
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"engine imported Qt: {result.stdout.strip()}"


def test_no_engine_source_mentions_a_qt_import() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "engine").rglob("*.py")
        if any(
            line.lstrip().startswith(
                ("import PySide", "from PySide", "import PyQt", "from PyQt", "import shiboken")
            )
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []
