"""bench_alerting's arguments and pure helpers: no services, no models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.bench_alerting import (
    SECTION,
    Pool,
    ceil_minute,
    env_pairs,
    history_copies,
    parse_args,
    percentile,
    rate_pairs,
    sink_stream,
    write_results,
)
from schemas.events import EnrichedEvent, RawEvent, Sentiment
from streams import codec

T0 = datetime(2026, 1, 1, 0, 20, tzinfo=UTC)


def decoded(i: int, at: datetime):
    raw = RawEvent(event_id=f"x:{i}", network="x", native_id=str(i), kind="post", author={"id": "u"}, text="t",
                   created_at=at, ingested_at=at + timedelta(seconds=2))
    event = EnrichedEvent(event=raw, language="en", language_confidence=1.0,
                          sentiment=Sentiment(label="neutral", score=0.0), enricher_version="v", enriched_at=at)
    return codec.read_enriched(codec.encode_model(event))  # the sink's decoded form (msgspec mirror)


def test_bench_alerting_defaults_measure_all_three_on_both_batch_sizes() -> None:
    args = parse_args([])
    assert args.only == {"cpu", "size", "latency"}
    assert args.batches == [500, 10_000] and args.reps >= 5
    assert args.latency_workers == [1, 2] and args.max_rate is None
    assert args.latency_env == {"SOCIALPULSE_CLICKHOUSE__INSERT_BATCH_ROWS": "4000"}


def test_bench_alerting_rejects_bad_arguments() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--only", "cpu,speed"])
    with pytest.raises(SystemExit):
        parse_args(["--spike-at", "50", "--spike-seconds", "40", "--corpus-seconds", "96"])  # minute would not close
    with pytest.raises(SystemExit):
        parse_args(["--max-rate", "1:800"])


def test_bench_alerting_pairs_and_lists_parse() -> None:
    assert rate_pairs("1=792, 2=1780.5") == {1: 792.0, 2: 1780.5}
    assert env_pairs("A=1,B=x=y") == {"A": "1", "B": "x=y"} and env_pairs("") == {}
    assert parse_args(["--batches", "500,2000"]).batches == [500, 2000]


def test_bench_alerting_time_helpers() -> None:
    assert ceil_minute(T0) == T0
    assert ceil_minute(T0 + timedelta(seconds=0.5)) == T0 + timedelta(minutes=1)
    assert history_copies(96.0, 720.0) == 8 and history_copies(1000.0, 720.0) == 1
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0 and percentile([1.0, 2.0], 0.99) == 2.0


def test_bench_alerting_pool_lays_copies_out_at_the_rate_asked_with_fresh_ids() -> None:
    pool = Pool.of([decoded(i, T0 + timedelta(seconds=i)) for i in range(10)])  # 1 post/s, span 10 s
    out = list(pool.laid_out(T0, T0 + timedelta(seconds=10), rate=4.0, tag="b"))
    assert len(out) == 40  # 4 posts/s for 10 s: four copies of the pool
    assert len({e.event_id for e in out}) == 40
    assert all(T0 <= e.event.created_at < T0 + timedelta(seconds=10) for e in out)
    assert out[1].event.created_at - out[0].event.created_at == timedelta(seconds=0.25)
    assert out[0].event.ingested_at - out[0].event.created_at == timedelta(seconds=2)
    assert codec.decode_enriched(codec.encode_model(codec.decode_enriched(
        __import__("msgspec").json.encode(out[5])))).event_id == out[5].event_id  # still a valid EnrichedEvent


def test_bench_alerting_sink_stream_puts_history_before_the_timed_corpus_with_running_offsets() -> None:
    timed = [decoded(i, T0 + timedelta(seconds=i)) for i in range(6)]
    history, stream = sink_stream(timed, [0, 1, 0, 1, 0, 1], [False, False, True, True, False, False], 0.5)
    assert len(history) == 4 * history_copies(5 + 5 / 3, 30)  # the 4 baseline posts per copy (span 5 s + a gap)
    assert max(e.event.created_at for _, _, e in history) < T0
    assert [o for p, o, _ in stream if p == 0] == [len(history) // 2 + k for k in range(3)]


def test_bench_alerting_writes_its_section_first_and_keeps_the_rest_byte_for_byte(tmp_path) -> None:
    path = tmp_path / "RESULTS.md"
    rest = "## Other (issue 18)\n\ntext\n\n## Older\n\nmore\n"
    path.write_text("\n" + rest)
    write_results(path, "first")
    assert path.read_text() == f"\n## {SECTION}\n\nfirst\n\n" + rest
    write_results(path, "second\n")
    assert path.read_text() == f"\n## {SECTION}\n\nsecond\n\n" + rest
