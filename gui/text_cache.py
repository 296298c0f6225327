"""Laid-out text for the table painters: Qt lays a string out once, then every repaint only draws it."""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter, QStaticText

MAX_TEXTS = 4096
ALIGN = {
    "left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
    "right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
    "center": Qt.AlignmentFlag.AlignCenter,
}


class TextCache:
    """QStaticText per string in one font. Most cell texts repeat (hosts, states, sizes), and drawing a
    laid-out text costs a third of QPainter.drawText, which lays it out anew on every call; laying one
    out costs more than drawing it once, so a text is kept from its second use on."""

    def __init__(self, font: QFont) -> None:
        self.font = QFont(font)
        self.metrics = QFontMetricsF(self.font)
        self._texts: OrderedDict[str, QStaticText] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()

    def known(self, text: str) -> bool:
        """True when the text is laid out already, or is seen for the second time (then it will be)."""
        if text in self._texts:
            return True
        if text in self._seen:
            return True
        self._seen[text] = None
        if len(self._seen) > MAX_TEXTS:
            self._seen.popitem(last=False)
        return False

    def get(self, text: str) -> QStaticText:
        static = self._texts.get(text)
        if static is None:
            static = QStaticText(text)
            static.setTextFormat(Qt.TextFormat.PlainText)
            static.prepare(font=self.font)
            self._texts[text] = static
            if len(self._texts) > MAX_TEXTS:
                self._texts.popitem(last=False)
        return static

    def draw(self, painter: QPainter, rect: QRect | QRectF, text: str, align: str = "left") -> None:
        """Draw `text` vertically centred in rect, aligned left, right or centre (the painter's font must
        be this cache's)."""
        if not self.known(text):
            painter.drawText(QRectF(rect), ALIGN[align], text)
            return
        static = self.get(text)
        size = static.size()
        if align == "right":
            x = rect.right() - size.width() + 1
        elif align == "center":
            x = rect.left() + (rect.width() - size.width()) / 2
        else:
            x = rect.left()
        painter.drawStaticText(QPointF(x, rect.top() + (rect.height() - size.height()) / 2), static)

    def width(self, text: str) -> float:
        static = self._texts.get(text)
        return float(static.size().width()) if static is not None else self.metrics.horizontalAdvance(text)
