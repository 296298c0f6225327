"""Workarounds for bugs in the Qt bindings Parafetch runs on; each is detected at run time, never assumed."""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

PROBE_CALLS = 64
UNREACHABLE_COUNT = 1 << 60


class _Probe(QObject):
    ping = Signal()


def _drops_references(target: object, call: object) -> bool:
    """True when calling `call` PROBE_CALLS times takes references from `target` it never gave."""
    assert callable(call)
    before = sys.getrefcount(target)
    for _ in range(PROBE_CALLS):
        call()
    return before - sys.getrefcount(target) >= PROBE_CALLS // 2


def binding_drops_singletons() -> bool:
    """True when PySide6 under-counts None (void methods) or True (`Signal.emit`), as 6.12.0 does."""
    probe = _Probe()
    return (_drops_references(None, lambda: probe.setObjectName("probe"))
            or _drops_references(True, probe.ping.emit))


def protect_singletons() -> bool:
    """Keep None, True and False alive under a binding that under-counts them; True when it was needed.

    PySide6 6.12.0 on Python 3.11 takes one reference from None on every call of a void C++ method
    (`label.setText(...)`), from True on every `Signal.emit()` and from False on every failed
    `disconnect()`. After some thousands of calls a count reaches zero and the interpreter aborts with
    "none_dealloc: deallocating None" (or "bool_dealloc"). Python 3.12 made these objects immortal
    (PEP 683); this does the same on 3.11 by giving them a reference count no program can use up. They
    are never freed in any case, so the exact count carries no meaning. The real fix is a PySide6
    without the bug (6.11.3 has none of it).
    """
    if sys.version_info >= (3, 12) or not binding_drops_singletons():
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value = UNREACHABLE_COUNT
    return True
