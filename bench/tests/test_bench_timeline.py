"""The benchmark's row timeline: how rates are read from the polls of the events table."""

from __future__ import annotations

import pytest

from bench._pipeline_support import RowTimeline


def _timeline(step_rows: int, steps: int, lag_seconds: float) -> RowTimeline:
    """A run timed from the start of production (as with --prewarm): the workers handle `step_rows` a second
    from then on, and each second's rows become queryable `lag_seconds` later (the sink's window, the insert).
    The table is polled every 0.1 s."""
    visible = [lag_seconds + i for i in range(1, steps + 1)]
    samples = []
    for i in range(int(visible[-1] * 10) + 1):
        now = i / 10
        samples.append((now, step_rows * sum(1 for t in visible if t <= now + 1e-9)))
    return RowTimeline(started=0.0, first_at=0.0, first_rows=0, done_at=samples[-1][0], rows=samples[-1][1],
                       samples=tuple(samples))


def test_middle_rate_is_the_pace_of_the_run_without_its_lag() -> None:
    timeline = _timeline(step_rows=400, steps=40, lag_seconds=1.5)
    assert timeline.middle_rate() == pytest.approx(400.0)
    assert timeline.steady_rate == pytest.approx(16_000 / 41.5)  # the lag counts once against the whole run


def test_middle_rate_needs_two_distinct_polls() -> None:
    one_step = RowTimeline(started=0.0, first_at=1.0, first_rows=100, done_at=2.0, rows=200,
                           samples=((1.0, 100), (2.0, 200)))
    assert one_step.middle_rate() is None
    assert RowTimeline(started=0.0, first_at=1.0, first_rows=1, done_at=2.0, rows=2).middle_rate() is None
