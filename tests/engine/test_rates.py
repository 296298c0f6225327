"""Speeds from when bytes arrived: reports handled late or in bursts never raise a speed above the truth."""

from __future__ import annotations

import pytest

from engine.rates import MIN_SPAN, SPEED_WINDOW, RateMeter

pytestmark = pytest.mark.timeout(10)


def test_a_steady_download_shows_its_rate() -> None:
    meter = RateMeter()
    for tenth in range(31):
        meter.add(100 + tenth / 10, tenth * 100_000)  # 1 MB/s
    assert meter.rate(103.0) == pytest.approx(1_000_000)


def test_reports_handled_back_to_back_keep_the_rate_they_arrived_at() -> None:
    """Thirty reports that waited in a queue and are applied in one moment: the old code took the gaps
    between handling times (microseconds) and showed GiB/s."""
    meter = RateMeter()
    for tenth in range(30):
        meter.add(50 + tenth / 10, tenth * 20_000)  # 200 kB/s, arrived over 2.9 s
    assert meter.rate(52.95) <= 200_000


def test_no_speed_is_shown_before_a_second_is_measured() -> None:
    meter = RateMeter()
    meter.add(10.0, 0)
    meter.add(10.1, 500_000)  # a burst from the socket's buffer
    assert meter.rate(10.1) == 0.0
    assert meter.rate(10.0 + MIN_SPAN) == pytest.approx(500_000 / MIN_SPAN)


def test_a_stalled_download_slows_to_zero() -> None:
    meter = RateMeter()
    for second in range(5):
        meter.add(float(second), second * 1000)
    assert meter.rate(4.0) == pytest.approx(1000)
    assert meter.rate(6.0) == pytest.approx(1000 / 3)  # 1000 bytes (3 -> 4) over the 3 s since 3.0
    assert meter.rate(4.0 + SPEED_WINDOW + 1) == 0.0


def test_a_restart_from_zero_measures_anew() -> None:
    meter = RateMeter()
    meter.add(0.0, 0)
    meter.add(2.0, 4_000_000)
    meter.add(2.5, 0)  # the server sent the whole file again
    meter.add(4.0, 30_000)
    assert meter.rate(4.0) == pytest.approx(20_000)
