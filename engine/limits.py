"""How many workers this machine can hold at once, from free memory and open-file limits (psutil)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

MIB = 1 << 20


@dataclass(frozen=True)
class Ceiling:
    """The most workers of one kind to run at once, and what sets that number."""

    limit: int
    reason: str


def open_file_limit() -> int:
    """The soft limit on open files, raised to the hard limit where the OS allows it."""
    if os.name != "posix":
        return 8192
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft


def worker_ceiling(kind: str, cost_bytes: int, files_each: int, hard_cap: int) -> Ceiling:
    """At most half of the free memory at `cost_bytes` per worker, within open-file and hard caps."""
    free = psutil.virtual_memory().available
    by_memory = max(1, int(free * 0.5 // cost_bytes))
    by_files = max(1, (open_file_limit() - 64) // files_each)
    limit = min(by_memory, by_files, hard_cap)
    if limit == by_memory:
        why = (
            f"half of the {free / (1 << 30):.1f} GiB free memory at about {cost_bytes // MIB} MiB per {kind}"
        )
    elif limit == by_files:
        why = f"the open-file limit, at {files_each} files per {kind}"
    else:
        why = f"Parafetch's cap of {hard_cap} {kind}s"
    return Ceiling(limit, why)
