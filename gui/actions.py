"""The window's commands as QActions with shortcuts, and the menus and toolbar that show them."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QStyle, QToolBar

SP = QStyle.StandardPixmap


@dataclass
class WindowActions:
    """Every command of the window, created once and shared by menus, toolbar and shortcuts."""

    start: QAction
    pause_all: QAction
    resume_all: QAction
    cancel_all: QAction
    retry_failed: QAction
    clear_finished: QAction
    raise_priority: QAction
    lower_priority: QAction
    show_failed: QAction
    restart_engine: QAction
    paste_urls: QAction
    import_list: QAction
    quit: QAction

    def run_actions(self) -> list[QAction]:
        return [self.start, self.pause_all, self.resume_all, self.cancel_all, self.retry_failed,
                self.clear_finished]


Shortcut = QKeySequence | QKeySequence.StandardKey | str


def _action(window: QMainWindow, text: str, shortcut: Shortcut, tip: str,
            icon: QStyle.StandardPixmap | None = None) -> QAction:
    action = QAction(text, window)
    action.setShortcut(QKeySequence(shortcut))
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip} ({keys})" if keys else tip)
    action.setStatusTip(tip)
    if icon is not None:
        action.setIcon(window.style().standardIcon(icon))
    window.addAction(action)  # shortcuts work even while the menu bar is hidden
    return action


def _toggle(action: QAction, short: str) -> QAction:
    """Make an action a checkable switch, named `short` on the toolbar."""
    action.setCheckable(True)
    action.setIconText(short)
    return action


def create_actions(window: QMainWindow) -> WindowActions:
    return WindowActions(
        start=_action(window, "&Start", "F5", "Start downloading the queued URLs", SP.SP_MediaPlay),
        pause_all=_action(window, "&Pause all", "F6", "Pause every queued and running download",
                          SP.SP_MediaPause),
        resume_all=_action(window, "&Resume all", "F7", "Resume every paused download",
                           SP.SP_MediaSeekForward),
        cancel_all=_action(window, "&Cancel all", "Ctrl+Shift+X",
                           "Cancel every unfinished download (partial files are deleted)", SP.SP_MediaStop),
        retry_failed=_action(window, "Re&try failed", "Ctrl+R", "Queue failed and cancelled downloads again",
                             SP.SP_BrowserReload),
        clear_finished=_action(window, "C&lear finished", "Ctrl+Shift+L",
                               "Remove done, failed and cancelled downloads from the list",
                               SP.SP_DialogResetButton),
        raise_priority=_action(window, "Raise &priority", "Ctrl+Up",
                               "Start the selected waiting downloads sooner", SP.SP_ArrowUp),
        lower_priority=_action(window, "Lo&wer priority", "Ctrl+Down",
                               "Start the selected waiting downloads later", SP.SP_ArrowDown),
        show_failed=_toggle(_action(window, "&Failed downloads", "Ctrl+Shift+F",
                                    "Show the downloads that failed for good, with their error history",
                                    SP.SP_MessageBoxWarning), "Failed"),
        restart_engine=_action(window, "Restart the download &engine", "Ctrl+Shift+E",
                               "Start the download engine again; unfinished downloads resume from the queue",
                               SP.SP_BrowserReload),
        paste_urls=_action(window, "&Add URLs from clipboard", QKeySequence.StandardKey.Paste,
                           "Add the URLs on the clipboard"),
        import_list=_action(window, "&Import list…", QKeySequence.StandardKey.Open,
                            "Add the URLs of a .txt list file", SP.SP_DialogOpenButton),
        quit=_action(window, "&Quit", QKeySequence.StandardKey.Quit, "Close Parafetch"),
    )


def build_menus(window: QMainWindow, actions: WindowActions) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(actions.import_list)
    file_menu.addAction(actions.paste_urls)
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)
    run_menu = bar.addMenu("&Downloads")
    for action in actions.run_actions():
        run_menu.addAction(action)
        if action is actions.cancel_all:
            run_menu.addSeparator()
    run_menu.addSeparator()
    run_menu.addAction(actions.raise_priority)
    run_menu.addAction(actions.lower_priority)
    run_menu.addSeparator()
    run_menu.addAction(actions.show_failed)
    run_menu.addSeparator()
    run_menu.addAction(actions.restart_engine)
    actions.restart_engine.setEnabled(False)  # only once the engine has died


def build_toolbar(window: QMainWindow, actions: WindowActions) -> QToolBar:
    toolbar = window.addToolBar("Downloads")
    toolbar.setObjectName("main-toolbar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    toolbar.setMovable(False)
    toolbar.addAction(actions.import_list)
    toolbar.addSeparator()
    for action in actions.run_actions():
        toolbar.addAction(action)
    toolbar.addSeparator()
    toolbar.addAction(actions.show_failed)
    return toolbar
