"""Plain-text tables and goal lines for benchmark output (Markdown pipe tables, readable as they are)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    """A target from the issue and whether this run met it."""

    name: str
    met: bool
    detail: str


def table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], notes: Sequence[str] = ()
) -> str:
    """A titled Markdown table with aligned columns, followed by its notes."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        padded = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in pairs]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    out = [f"### {title}", "", line(headers), rule, *(line(r) for r in rows)]
    if notes:
        out += ["", *notes]
    return "\n".join(out) + "\n"


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.0f}%"


def goals_text(goals: Sequence[Goal]) -> str:
    lines = ["### Goals", ""]
    for goal in goals:
        verdict = "MET   " if goal.met else "MISSED"
        lines.append(f"- {verdict} {goal.name}: {goal.detail}")
    return "\n".join(lines) + "\n"
