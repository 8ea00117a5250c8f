"""bench_pipeline's argument checks: a run must not measure events its warm-up already stored."""

from __future__ import annotations

import pytest

from bench.bench_pipeline import parse_args


def test_measured_events_may_not_overlap_the_warm_up_events_at_the_corpus_end() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--events", "20000", "--enrich-events", "20000"])  # the 400 warm-up events are among them
    with pytest.raises(SystemExit):
        parse_args(["--events", "20000", "--naive-events", "19700"])
    args = parse_args(["--events", "20000", "--enrich-events", "19600"])
    assert args.enrich_events + args.prewarm == args.events
    assert parse_args(["--events", "20000", "--enrich-events", "20000", "--prewarm", "0"]).prewarm == 0
