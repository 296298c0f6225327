"""A first mode suggestion: after URLs are added, a quick probe of a sample of the list, off the UI thread."""

from __future__ import annotations

import contextlib
import statistics
import threading

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from engine.recommend import SMALL_FILE, ProbeResult, probe
from engine.transfer import human_bytes
from gui.bridge import SessionBridge
from gui.input_panel import InputPanel, mode_label
from gui.jobs_model import JobsTableModel

DEBOUNCE_MS = 600  # adds in quick succession (a paste, then another) are probed once
SAMPLE = 8
TIMEOUT_S = 3.0


def suggestion_text(result: ProbeResult) -> str:
    """'Suggested: thread pool × 32 — the sample waits 100 ms per file and moves little data'."""
    advice = result.suggestion
    label = mode_label(advice.mode)
    head = f"Suggested: {label[:1].lower() + label[1:]} × {advice.workers}"
    if result.latency_s is None:
        return head
    wait = f"the sample waits {result.latency_s * 1000:.0f} ms per file"
    known = [s for s in result.sizes if s is not None]
    if not known:
        return f"{head} — {wait}"
    typical = statistics.median(known)
    data = "moves little data" if typical < SMALL_FILE else f"its files are about {human_bytes(typical)}"
    return f"{head} — {wait} and {data}"


class ProbeSuggester(QObject):
    """Probes the window's list DEBOUNCE_MS after rows were added, one probe at a time, and shows the
    suggestion under the mode picker. A probe that gets no answer shows nothing but a quiet tooltip."""

    _probed = Signal(object, int)  # ProbeResult or an error message, and the generation it belongs to

    def __init__(self, model: JobsTableModel, panel: InputPanel, bridge: SessionBridge,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.panel = panel
        self.last: ProbeResult | None = None
        self._generation = 0  # bumped by every add: an older probe's answer is not shown
        self._running = False
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._probe)
        self._probed.connect(self._show)
        model.rowsInserted.connect(self.schedule)
        bridge.shutdown_finished.connect(self._close, Qt.ConnectionType.DirectConnection)

    @property
    def busy(self) -> bool:
        return self._running or self._timer.isActive()

    @Slot()
    def schedule(self) -> None:
        """Probe the list soon (called when rows are added; later calls push the probe back)."""
        self._generation += 1
        self._timer.start()

    @Slot()
    def _probe(self) -> None:
        if self._running:  # one probe at a time: the running one's answer schedules the next
            return
        urls = [job.url for job in self.model.jobs()]
        if not urls:
            return
        self._running = True
        thread = threading.Thread(target=self._work, args=(urls, self._generation), name="probe", daemon=True)
        thread.start()

    def _work(self, urls: list[str], generation: int) -> None:
        try:
            answer: ProbeResult | str = probe(urls, SAMPLE, TIMEOUT_S)
        except Exception as exc:  # shown as a tooltip, never as an error: the probe is only a hint
            answer = f"{type(exc).__name__}: {exc}"
        if not self._closed:
            with contextlib.suppress(RuntimeError):  # the window is already gone
                self._probed.emit(answer, generation)

    def _close(self) -> None:
        self._closed = True

    @Slot(object, int)
    def _show(self, answer: ProbeResult | str, generation: int) -> None:
        self._running = False
        if generation != self._generation:  # more URLs came while it ran: probe the list as it is now
            self._probe()
            return
        if isinstance(answer, str) or answer.latency_s is None:
            why = answer if isinstance(answer, str) else "none of the sampled URLs answered"
            self.panel.set_suggestion("", f"No suggestion: {why}")
            self.last = None
            return
        self.last = answer
        self.panel.set_suggestion(suggestion_text(answer), answer.suggestion.reason)
