"""The downloads table model: Qt's model checks, and one dataChanged per batch of changes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.jobs import Job, JobState
from engine.protocol import Changes
from gui.jobs_model import JOB_ID_ROLE, PROGRESS_ROLE, SORT_ROLE, Column, JobsTableModel

pytestmark = pytest.mark.timeout(30)


def make_job(n: int, state: JobState = JobState.QUEUED, **fields: object) -> Job:
    job = Job(f"http://127.0.0.1:8000/file-{n}.bin", "/tmp/dl", id=n)
    job.state = state
    for name, value in fields.items():
        setattr(job, name, value)
    return job


def sample_jobs() -> list[Job]:
    return [
        make_job(1),
        make_job(2, JobState.RUNNING, name="two.bin", total=1000, bytes_done=250, speed=100.0, started_at=1.0,
                 worker_pid=42, worker_thread="worker-1"),
        make_job(3, JobState.DONE, name="three.png", total=10, bytes_done=10, path="/tmp/dl/three.png",
                 started_at=1.0, finished_at=2.0),
        make_job(4, JobState.FAILED, error="server answered HTTP 404 Not Found", started_at=1.0,
                 finished_at=3.0),
        make_job(5, JobState.PAUSED, total=None, bytes_done=77),
        make_job(6, JobState.CANCELLED),
    ]


def test_model_passes_qt_model_checks(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = JobsTableModel(clock=lambda: 10.0)
    model.apply(Changes(sample_jobs(), []))
    qtmodeltester.check(model, force_py=True)


def test_cells_show_what_a_person_needs() -> None:
    model = JobsTableModel(clock=lambda: 10.0)
    jobs = sample_jobs()
    model.apply(Changes(jobs, []))

    def text(row: int, column: Column) -> str:
        return str(model.index(row, column).data(Qt.ItemDataRole.DisplayRole))

    assert model.rowCount() == 6 and model.columnCount() == len(Column)
    assert text(0, Column.NAME) == "file-1.bin"  # the URL's name until the server says otherwise
    assert text(1, Column.HOST) == "127.0.0.1:8000"
    assert text(1, Column.PROGRESS) == "25%"
    assert model.index(1, Column.PROGRESS).data(PROGRESS_ROLE) == pytest.approx(0.25)
    assert text(1, Column.SPEED) == "100 B/s"
    assert text(1, Column.ETA) == "0:07"
    assert text(1, Column.ELAPSED) == "0:09"
    assert text(1, Column.WORKER) == "42 / worker-1"
    assert text(2, Column.PROGRESS) == "100%"
    assert text(3, Column.STATE) == "failed"
    assert "HTTP 404" in model.index(3, Column.NAME).data(Qt.ItemDataRole.ToolTipRole)
    assert text(4, Column.PROGRESS) == "77 B"  # size unknown: bytes so far
    for row in range(6):
        assert not model.index(row, Column.STATE).data(Qt.ItemDataRole.DecorationRole).isNull()
    assert model.index(3, Column.NAME).data(JOB_ID_ROLE) == jobs[3].id


def test_one_data_changed_per_batch_and_rows_come_and_go() -> None:
    model = JobsTableModel(clock=lambda: 10.0)
    jobs = sample_jobs()
    model.apply(Changes(jobs, []))
    seen: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, roles: seen.append((top.row(), bottom.row())))
    first, last = make_job(0), make_job(0)
    first.__dict__.update(jobs[0].__dict__, state=JobState.RUNNING)
    last.__dict__.update(jobs[4].__dict__, bytes_done=99)
    finished = model.apply(Changes([first, last], []))
    assert seen == [(0, 4)] and finished == []
    done = make_job(0)
    done.__dict__.update(jobs[1].__dict__, state=JobState.DONE)
    assert [j.id for j in model.apply(Changes([done], []))] == [jobs[1].id]
    model.apply(Changes([], [jobs[0].id, jobs[2].id, jobs[3].id]))
    assert [j.id for j in model.jobs()] == [jobs[1].id, jobs[4].id, jobs[5].id]
    assert model.row_of(jobs[5].id) == 2
    assert model.has_url(jobs[4].url, "/tmp/dl") and not model.has_url(jobs[0].url, "/tmp/dl")


def test_sort_role_orders_sizes_numerically() -> None:
    model = JobsTableModel(clock=lambda: 10.0)
    model.apply(Changes([make_job(1, total=900), make_job(2, total=10_000), make_job(3)], []))
    keys = [model.index(r, Column.SIZE).data(SORT_ROLE) for r in range(3)]
    assert keys == [900, 10_000, -1]
