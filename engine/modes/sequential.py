"""Sequential mode: one worker thread, one download after another."""

from __future__ import annotations

from typing import ClassVar

from engine.limits import Ceiling
from engine.modes.base import Runner


class SequentialRunner(Runner):
    name: ClassVar[str] = "sequential"
    label: ClassVar[str] = "Sequential"
    description: ClassVar[str] = (
        "One download after another on a single worker thread. Simplest and gentlest on the server; "
        "slowest whenever files spend time waiting on the network."
    )

    def ceiling(self) -> Ceiling:
        return Ceiling(1, "sequential mode")
