"""Turning pastes, drops (text, links, .txt list files) and imported lists into parsed URL entries."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, QUrl, Signal

from engine.sources import ParsedInput, Rejected, parse_text, read_sources

LIST_SUFFIXES = (".txt", ".list", ".lst", ".urls")
MAX_LIST_BYTES = 32 << 20
LINES_INLINE = 500  # longer texts are parsed off the UI thread
MAX_DETAILS = 200  # detail lines of one message


def url_text(url: QUrl) -> str:
    """A URL as sent over the wire (percent-encoded), not as shown to a person."""
    return bytes(url.toEncoded().data()).decode("ascii", "replace")


def describe(rejected: Rejected) -> str:
    """One readable line for an input that was refused."""
    if rejected.line == 0:
        return f"{rejected.text}: {rejected.reason}"
    return str(rejected)


def add_report(source: str, parsed: ParsedInput, added: int, in_list: list[str],
               again: int) -> tuple[str, list[str]]:
    """The line and the details that tell a person what an add did: added, queued again, skipped, invalid."""
    duplicates = len(parsed.duplicates) + len(in_list)
    parts = [f"{added} added"]
    if again:
        parts.append(f"{again} failed or cancelled queued again")
    if duplicates:
        parts.append(f"{duplicates} duplicate{'s' if duplicates != 1 else ''} skipped")
    if parsed.rejected:
        parts.append(f"{len(parsed.rejected)} invalid")
    details = [f"invalid: {describe(r)}" for r in parsed.rejected]
    details += [f"duplicate: {d.url} (line {d.line})" for d in parsed.duplicates]
    details += [f"already in the list: {url}" for url in in_list]
    if len(details) > MAX_DETAILS:
        details[MAX_DETAILS:] = [f"… and {len(details) - MAX_DETAILS} more"]
    return f"{source}: {', '.join(parts)}", details


def read_lists(paths: Iterable[str], urls: Iterable[str] = ()) -> ParsedInput:
    """Read list files (checked for kind and size first) plus loose URLs; runs on a worker thread."""
    readable: list[str] = []
    refused: list[Rejected] = []
    for name in paths:
        path = Path(name)
        try:
            size = path.stat().st_size
        except OSError as exc:
            refused.append(Rejected(name, f"cannot read list file: {exc.strerror or exc}", 0))
            continue
        if path.is_dir():
            refused.append(Rejected(name, "a folder, not a list file", 0))
        elif size > MAX_LIST_BYTES:
            refused.append(Rejected(name, f"too large for a list of URLs ({size >> 20} MiB)", 0))
        else:
            readable.append(name)
    result = read_sources(list(urls), readable)
    result.rejected[:0] = refused
    return result


class UrlIntake(QObject):
    """Parses input from every way in; `parsed(result, source)` reports each batch (files: from a thread)."""

    parsed = Signal(object, str)  # ParsedInput, what it came from ("Paste", "Drop", "Import", ...)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._readers: list[threading.Thread] = []

    @staticmethod
    def can_accept(mime: QMimeData) -> bool:
        return mime.hasUrls() or mime.hasText()

    def from_text(self, text: str, source: str = "Paste") -> None:
        """Parse at once, or on a worker thread when the text is long (a pasted list of thousands)."""
        if text.count("\n") < LINES_INLINE:
            self.parsed.emit(parse_text(text), source)
        else:
            self._in_background(lambda: parse_text(text), source)

    def from_files(self, paths: list[str], source: str = "Import", urls: Iterable[str] = ()) -> None:
        """Read list files off the UI thread; the result arrives through `parsed`."""
        loose = list(urls)
        self._in_background(lambda: read_lists(paths, loose), source)

    def _in_background(self, work: Callable[[], ParsedInput], source: str) -> None:
        reader = threading.Thread(target=lambda: self.parsed.emit(work(), source), name="list-reader",
                                  daemon=True)
        self._readers = [r for r in self._readers if r.is_alive()] + [reader]
        reader.start()

    def from_mime(self, mime: QMimeData, source: str = "Drop") -> bool:
        """Take what a drop or the clipboard holds: links, list files or text; False when it holds none."""
        if mime.hasUrls():
            links: list[str] = []
            files: list[str] = []
            refused: list[Rejected] = []
            for url in mime.urls():
                if url.isLocalFile():
                    path = url.toLocalFile()
                    if path.lower().endswith(LIST_SUFFIXES):
                        files.append(path)
                    else:
                        refused.append(Rejected(path, "only .txt list files can be dropped", 0))
                else:
                    links.append(url_text(url))
            if files:
                self.from_files(files, source, links)
                if refused:
                    self.parsed.emit(ParsedInput(rejected=refused), source)
                return True
            result = parse_text("\n".join(links))
            result.rejected[:0] = refused
            self.parsed.emit(result, source)
            return True
        if mime.hasText():
            self.from_text(mime.text(), source)
            return True
        return False

    def busy(self) -> bool:
        """True while a list file is being read."""
        return any(r.is_alive() for r in self._readers)
