"""The one channel for messages and errors: a thread-safe hub and the panel that lists what it posted."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger("parafetch")

INFO, WARNING, ERROR = "info", "warning", "error"
MAX_MESSAGES = 500
EXPAND_UP_TO = 12  # details of a message are shown expanded when there are at most this many


@dataclass(frozen=True)
class Message:
    """One thing to tell the person: a level, a line, and optional detail lines."""

    level: str
    text: str
    details: tuple[str, ...] = ()
    time: float = 0.0


class MessageHub(QObject):
    """Where every part of the app posts messages; safe to call from any thread (delivery is queued)."""

    posted = Signal(object)  # Message

    def post(self, level: str, text: str, details: list[str] | tuple[str, ...] = ()) -> None:
        message = Message(level, text, tuple(details), time.time())
        getattr(log, level if level in (INFO, WARNING, ERROR) else INFO)(
            "%s%s", text, "".join(f"\n    {d}" for d in message.details))
        self.posted.emit(message)

    def info(self, text: str, details: list[str] | tuple[str, ...] = ()) -> None:
        self.post(INFO, text, details)

    def warning(self, text: str, details: list[str] | tuple[str, ...] = ()) -> None:
        self.post(WARNING, text, details)

    def error(self, text: str, details: list[str] | tuple[str, ...] = ()) -> None:
        self.post(ERROR, text, details)


class MessagesPanel(QWidget):
    """A non-modal list of what happened: summaries of each add, failed downloads, errors, with details."""

    def __init__(self, hub: MessageHub, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._messages: list[Message] = []
        style = self.style()
        self._icons = {
            INFO: style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation),
            WARNING: style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
            ERROR: style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical),
        }
        self.title = QLabel("What each add did, and every failure and error.")
        self.tree = QTreeWidget()
        self.tree.setObjectName("messages")
        self.tree.setHeaderHidden(True)
        self.tree.setColumnCount(1)
        self.tree.setUniformRowHeights(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setMinimumHeight(2 * (self.fontMetrics().height() + 4) + 6)  # two lines: fits 1024x640
        clear = QPushButton("Clear")
        clear.setToolTip("Remove every message from this list")
        clear.clicked.connect(self.clear)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.tree)
        hub.posted.connect(self.add)  # queued when posted from another thread

    @Slot(object)
    def add(self, message: Message) -> None:
        self._messages.append(message)
        stamp = time.strftime("%H:%M:%S", time.localtime(message.time))
        item = QTreeWidgetItem([f"{stamp}  {message.text}"])
        item.setIcon(0, self._icon(message.level))
        item.setToolTip(0, "\n".join((message.text, *message.details[:40])))
        for detail in message.details:
            child = QTreeWidgetItem([detail])
            child.setToolTip(0, detail)
            item.addChild(child)
        self.tree.insertTopLevelItem(0, item)
        item.setExpanded(len(message.details) <= EXPAND_UP_TO)
        while self.tree.topLevelItemCount() > MAX_MESSAGES:
            self.tree.takeTopLevelItem(self.tree.topLevelItemCount() - 1)
        del self._messages[:-MAX_MESSAGES]
        self.tree.scrollToTop()

    def _icon(self, level: str) -> QIcon:
        return self._icons.get(level, self._icons[INFO])

    @Slot()
    def clear(self) -> None:
        self._messages.clear()
        self.tree.clear()

    def messages(self) -> list[Message]:
        """Everything shown, oldest first (for tests and for copying)."""
        return list(self._messages)
