"""Application setup: the QApplication, its icon, the hooks that catch uncaught exceptions, and `main`."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QStyle

from engine.host import EXIT_FOLDER_IN_USE
from engine.ownership import FolderInUse, FolderLock
from engine.store import default_data_dir
from engine.workers import stop_process_helpers
from gui.front_door import FrontDoor, knock
from gui.messages import MessageHub

log = logging.getLogger("parafetch")
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
ICON_PATH = RESOURCES / "parafetch.png"


def app_icon() -> QIcon:
    """resources/parafetch.png, or a standard icon when it is missing."""
    if ICON_PATH.is_file():
        icon = QIcon(str(ICON_PATH))
        if not icon.isNull():
            return icon
    return QApplication.style().standardIcon(QStyle.StandardPixmap.SP_ArrowDown)


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication with Parafetch's names (QSettings uses them) and icon; reuses one that exists."""
    QCoreApplication.setOrganizationName("Parafetch")
    QCoreApplication.setApplicationName("Parafetch")
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationDisplayName("Parafetch")
    app.setDesktopFileName("parafetch")
    app.setWindowIcon(app_icon())
    return app


class ExceptionHooks:
    """Routes uncaught exceptions (any thread) to the log and the message panel; the app keeps running."""

    def __init__(self, hub: MessageHub) -> None:
        self.hub = hub
        self._old_sys = sys.excepthook
        self._old_thread = threading.excepthook
        self.caught = 0

    def install(self) -> ExceptionHooks:
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook
        return self

    def uninstall(self) -> None:
        sys.excepthook = self._old_sys
        threading.excepthook = self._old_thread

    def report(self, kind: type[BaseException], value: BaseException, tb: TracebackType | None,
               where: str) -> None:
        self.caught += 1
        text = "".join(traceback.format_exception(kind, value, tb))
        log.error("uncaught exception in %s:\n%s", where, text)
        with contextlib.suppress(RuntimeError):  # the hub is already gone (at exit)
            self.hub.error(f"Internal error in {where}: {kind.__name__}: {value}",
                           text.rstrip().splitlines()[-12:])

    def _sys_hook(self, kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self._old_sys(kind, value, tb)
            return
        self.report(kind, value, tb, "the window")

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        self.report(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback, f"thread {name}")


def check_data_folder(data_dir: Path) -> None:
    """Raise FolderInUse when another Parafetch owns the data folder (its engine would refuse to start).
    The engine takes the folder itself; this only lets the window say so before it opens."""
    with contextlib.suppress(OSError):  # a folder that cannot be made: the engine says why, in the window
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        FolderLock(data_dir).release()


def main(mode: str | None = None, workers: int | None = None, data_dir: str | None = None) -> int:
    """Open the window and run until it is closed; returns the exit status."""
    from gui.main_window import MainWindow

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    app.setAttribute(Qt.ApplicationAttribute.AA_DontShowIconsInMenus, False)
    hub = MessageHub()
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    try:
        check_data_folder(folder)
    except FolderInUse as busy:
        if knock(folder):  # a window owns the folder: it comes forward, and this one is not needed
            print(f"parafetch: the window already open on {folder} was brought to the front", file=sys.stderr)
            return 0
        print(f"parafetch: {busy}", file=sys.stderr)
        QMessageBox.critical(None, "Parafetch is already running", f"Parafetch cannot open: {busy}.")
        return EXIT_FOLDER_IN_USE
    hooks = ExceptionHooks(hub).install()
    window = MainWindow(QSettings(), hub, mode, workers, folder)
    window.setWindowIcon(app_icon())
    window.show()
    door = FrontDoor(folder, window.bring_to_front, window)
    if not door.is_open:
        log.warning("a second window on %s will not find this one", folder)
    try:
        status = app.exec()
    finally:
        if not window.is_shut_down:  # the app was quit without closing the window (logout, signal)
            window.shut_down_now(2.0)
        stop_process_helpers()
        hooks.uninstall()
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
