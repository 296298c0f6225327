"""Adding URLs: the paste box, Ctrl+V anywhere, drops of text, links and list files, File > Import list."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow

pytestmark = pytest.mark.timeout(30)
URLS = ["http://127.0.0.1:9/a.bin", "https://example.invalid/b.png", "http://127.0.0.1:9/c%20d.txt"]


def urls_in_table(window: MainWindow) -> list[str]:
    return [job.url for job in window.model.jobs()]


def last_message(window: MainWindow) -> str:
    messages = window.messages.messages()
    return messages[-1].text if messages else ""


def drop(window: MainWindow, mime: QMimeData) -> bool:
    """Send a real drag-enter and drop to the window, as a drag from another app would; True if accepted."""
    where = QPoint(window.width() // 3, window.height() // 2)
    with warnings.catch_warnings():  # Qt 6.12 deprecates the QPoint constructor and binds no other
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(where), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    return event.isAccepted()


def test_paste_box_and_add_button(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.input.paste_box.setPlainText("\n".join(URLS))
    qtbot.mouseClick(window.input.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: urls_in_table(window) == URLS)
    assert window.input.paste_box.toPlainText() == ""  # everything was taken
    qtbot.waitUntil(lambda: last_message(window).startswith("Paste: 3 added"))
    assert "3 added" in window.status.currentMessage()
    assert window.status.counts.text().startswith("0 done · 0 failed · 3 total")


def test_invalid_lines_are_reported_with_reasons(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    text = f"{URLS[0]}\nftp://host/file\njust words\n{URLS[0]}\nhttp://\n"
    window.input.paste_box.setPlainText(text)
    qtbot.mouseClick(window.input.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: urls_in_table(window) == [URLS[0]])
    assert window.input.paste_box.toPlainText() == text  # kept, so the person can fix the bad lines
    qtbot.waitUntil(lambda: bool(window.messages.messages()))
    message = window.messages.messages()[-1]
    assert message.level == "warning"
    assert message.text.startswith("Paste: 1 added, 1 duplicate skipped, 4 invalid")
    details = "\n".join(message.details)
    assert "line 2: 'ftp://host/file': unsupported scheme 'ftp:'" in details
    assert "line 3: 'just': not a URL" in details
    assert "line 5: 'http://': no host name" in details
    assert "duplicate: http://127.0.0.1:9/a.bin (line 4)" in details
    newest = window.messages.tree.topLevelItem(0)
    assert newest is not None and newest.childCount() == len(message.details)


def test_adding_again_skips_urls_already_in_the_list(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.add_text(URLS[0])
    window.add_text("\n".join(URLS))
    qtbot.waitUntil(lambda: urls_in_table(window) == URLS)
    qtbot.waitUntil(lambda: last_message(window).startswith("Paste: 2 added, 1 duplicate skipped"))
    assert f"already in the list: {URLS[0]}" in window.messages.messages()[-1].details


def test_ctrl_v_anywhere_adds_the_clipboard(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    QGuiApplication.clipboard().setText(" ".join(URLS[:2]))
    window.view.setFocus()
    qtbot.waitUntil(window.view.hasFocus)
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: urls_in_table(window) == URLS[:2])
    qtbot.waitUntil(lambda: last_message(window).startswith("Clipboard: 2 added"))
    assert window.input.paste_box.toPlainText() == ""


def test_ctrl_v_in_the_paste_box_pastes_text(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    QGuiApplication.clipboard().setText(URLS[0])
    window.input.paste_box.setFocus()
    qtbot.waitUntil(window.input.paste_box.hasFocus)
    qtbot.keyClick(window.input.paste_box, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert window.input.paste_box.toPlainText() == URLS[0]
    qtbot.waitUntil(lambda: urls_in_table(window) == [])


def test_drop_plain_text(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    mime = QMimeData()
    mime.setText("Here are two: " + ", ".join(URLS[:2]) + "\n# a comment\n")
    assert drop(window, mime)
    qtbot.waitUntil(lambda: urls_in_table(window) == URLS[:2])
    qtbot.waitUntil(lambda: last_message(window) == "Drop: 2 added, 3 invalid — press Start (F5) to download")


def test_drop_links_from_a_browser(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    mime = QMimeData()
    mime.setUrls([QUrl(url) for url in URLS] + [QUrl("mailto:someone@example.com")])
    assert mime.hasFormat("text/uri-list")
    assert drop(window, mime)
    qtbot.waitUntil(lambda: urls_in_table(window) == URLS)  # percent-encoding kept as sent
    qtbot.waitUntil(lambda: last_message(window).startswith("Drop: 3 added, 1 invalid"))
    assert any("mailto" in d for d in window.messages.messages()[-1].details)


def test_drop_list_files(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my list\n{URLS[0]}\n{URLS[1]}  # the picture\nnot-a-url\n", encoding="utf-8")
    other = tmp_path / "photo.jpg"
    other.write_bytes(b"\xff\xd8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(listing)), QUrl.fromLocalFile(str(other))])
    assert drop(window, mime)
    qtbot.waitUntil(lambda: urls_in_table(window) == URLS[:2])  # read on a worker thread
    qtbot.waitUntil(lambda: len(window.messages.messages()) == 2)
    texts = sorted(m.text for m in window.messages.messages())
    assert texts == ["Drop: 0 added, 1 invalid", "Drop: 2 added, 1 invalid — press Start (F5) to download"]
    details = [d for m in window.messages.messages() for d in m.details]
    assert any("list.txt:4: 'not-a-url'" in d for d in details)
    assert any("photo.jpg: only .txt list files can be dropped" in d for d in details)


def test_drop_of_nothing_useful_is_refused(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    mime = QMimeData()
    mime.setData("application/x-something", b"\x00\x01")
    assert not drop(window, mime)
    qtbot.waitUntil(lambda: urls_in_table(window) == [])


def test_import_list(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(URLS), encoding="utf-8")
    window.import_lists([str(listing), str(tmp_path / "missing.txt")])
    qtbot.waitUntil(lambda: urls_in_table(window) == URLS)
    qtbot.waitUntil(lambda: last_message(window).startswith("Import: 3 added, 1 invalid"))
    assert any("missing.txt: cannot read list file" in d for d in window.messages.messages()[-1].details)
