"""Live progress on a terminal: one line per running job and one for the whole run, redrawn in place."""

from __future__ import annotations

import shutil
import time
from typing import TextIO

from engine.jobs import Job, JobState
from engine.protocol import SessionStats
from engine.transfer import human_bytes

MAX_JOB_LINES = 8


def format_duration(seconds: float | None) -> str:
    """75 -> '1:15'; None -> '–'."""
    if seconds is None:
        return "–"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def job_line(job: Job, width: int) -> str:
    """`name  43%  1.2 MiB/s  ETA 0:07` for one running job."""
    name = job.name or job.url.rsplit("/", 1)[-1] or job.url
    if job.total:
        done = f"{100 * job.bytes_done / job.total:3.0f}% of {human_bytes(job.total)}"
    else:
        done = human_bytes(job.bytes_done)
    tail = f"  {done}  {human_bytes(job.speed)}/s  ETA {format_duration(job.eta)}"
    if job.next_attempt_at is not None:
        tail = f"  retrying in {format_duration(max(0.0, job.next_attempt_at - time.time()))}"
    room = max(10, width - len(tail) - 2)
    return "  " + (name if len(name) <= room else name[: room - 1] + "…") + tail


def overall_line(stats: SessionStats, elapsed: float) -> str:
    line = (
        f"{stats.done}/{stats.total} done, {stats.failed} failed, {stats.running} running  "
        f"{human_bytes(stats.bytes_done)}  {human_bytes(stats.speed)}/s  {format_duration(elapsed)}"
    )
    return line + (f"  ({stats.held_back})" if stats.held_back else "")


class LiveProgress:
    """Redraws a small block of lines on a terminal stream with ANSI cursor movement."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._drawn = 0

    def draw(self, jobs: list[Job], stats: SessionStats, elapsed: float) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        running = [j for j in jobs if j.state is JobState.RUNNING][:MAX_JOB_LINES]
        lines = [job_line(j, width)[:width] for j in running] + [overall_line(stats, elapsed)[:width]]
        self.clear()
        self._stream.write("".join(f"{line}\x1b[K\n" for line in lines))
        self._stream.flush()
        self._drawn = len(lines)

    def clear(self) -> None:
        if self._drawn:
            self._stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0
