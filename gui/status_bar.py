"""The status bar: the latest message; done / failed / total, bytes and the elapsed time on the right."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from engine.protocol import SessionStats
from engine.terminal import format_duration
from engine.transfer import human_bytes

MESSAGE_MS = 10_000


class StatusBar(QStatusBar):
    """Permanent counters, plus `showMessage` for what just happened."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("status")
        self.counts = QLabel()
        self.counts.setObjectName("status-counts")
        self.bytes = QLabel()
        self.bytes.setObjectName("status-bytes")
        self.elapsed = QLabel()
        self.elapsed.setObjectName("status-elapsed")
        self.elapsed.setToolTip("The run's elapsed time (it holds while everything is paused)")
        for label in (self.counts, self.bytes, self.elapsed):
            label.setContentsMargins(6, 0, 6, 0)
            self.addPermanentWidget(label)
        self.show_stats(None, 0.0)

    def show_stats(self, stats: SessionStats | None, elapsed: float) -> None:
        if stats is None:
            self.counts.setText("0 done · 0 failed · 0 total")
            self.bytes.setText(human_bytes(0))
        else:
            text = f"{stats.done} done · {stats.failed} failed · {stats.total} total"
            if stats.cancelled:
                text += f" · {stats.cancelled} cancelled"
            self.counts.setText(text)
            self.bytes.setText(human_bytes(stats.bytes_done))
        self.elapsed.setText(f"elapsed {format_duration(elapsed)}")

    def say(self, text: str) -> None:
        self.showMessage(text, MESSAGE_MS)
