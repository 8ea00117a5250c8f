"""Synthetic stream: deterministic, realistic, consistent with the normalizers, spikes behave."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from processors.normalizers import detect_and_normalize, detect_network
from schemas import EventKind, Network, RawEvent
from streams.cli.ingest import parse_duration, parse_spike
from streams.codec import decode_raw, encode_model
from streams.sources.generator import Generator, GeneratorConfig, Spike, generate, mixed_records

START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "posts.jsonl"


@pytest.fixture(scope="module")
def posts() -> list:
    return generate(1500, start=START, seed=11, rate_per_minute=60)


def test_generator_is_deterministic_for_seed_and_start() -> None:
    a = [encode_model(p.event) + json.dumps(p.payload).encode() for p in generate(300, start=START, seed=5)]
    b = [encode_model(p.event) + json.dumps(p.payload).encode() for p in generate(300, start=START, seed=5)]
    c = [encode_model(p.event) for p in generate(300, start=START, seed=6)]
    assert a == b
    assert [x[: len(y)] for x, y in zip(a, c, strict=True)] != c


def test_generator_payloads_normalize_back_to_the_event(posts: list) -> None:
    for p in posts:
        assert detect_network(p.payload) is p.event.network
        again = detect_and_normalize(p.payload, now=p.event.ingested_at)
        assert again == p.event


def test_generator_events_pass_the_codec(posts: list) -> None:
    now = posts[-1].event.created_at + timedelta(minutes=5)
    for i, p in enumerate(posts):
        for value in (encode_model(p.event), json.dumps(p.payload).encode()):
            out = decode_raw(value, topic="t", partition=0, offset=i, key=None, now=now)
            assert isinstance(out, RawEvent), out


def test_generator_covers_networks_languages_kinds_and_emoji(posts: list) -> None:
    events = [p.event for p in posts]
    assert set(Counter(e.network for e in events)) == set(Network)
    langs = Counter(e.lang_hint for e in events if e.lang_hint)
    assert langs["en"] > 200 and langs["es"] > 150 and langs["pt"] > 0 and langs["fr"] > 0
    kinds = Counter(e.kind for e in events)
    assert {EventKind.POST, EventKind.REPLY, EventKind.REPOST, EventKind.COMMENT} <= set(kinds)
    texts = [e.text for e in events]
    assert any("\u200d" in t for t in texts)  # ZWJ sequences
    assert any(any(0x1F1E6 <= ord(c) <= 0x1F1FF for c in t) for t in texts)  # flags
    assert any("#" in t for t in texts) and any("@" in t for t in texts) and any("https://" in t for t in texts)
    assert any("Nimbus" in t for t in texts) and any("Vertex" in t for t in texts)


def test_generator_reposts_duplicate_earlier_text(posts: list) -> None:
    by_id = {p.event.native_id: p.event for p in posts}
    reposts = [p.event for p in posts if p.event.kind is EventKind.REPOST]
    assert reposts
    for r in reposts:
        original = by_id[r.reply_to_id]
        assert original.text in r.text


def test_generator_replies_point_to_earlier_posts(posts: list) -> None:
    seen: set[str] = set()
    for p in posts:
        e = p.event
        if e.kind is EventKind.REPLY and e.network in (Network.X, Network.BLUESKY, Network.MASTODON):
            assert e.reply_to_id in seen
        if e.network is Network.REDDIT and e.kind is EventKind.COMMENT:
            assert e.reply_to_id in seen and e.thread_id in seen
        seen.add(e.native_id)  # Mastodon replies name the parent's uri, the same id space as native_id


def test_generator_created_at_is_ordered_and_rate_is_respected(posts: list) -> None:
    times = [p.event.created_at for p in posts]
    reddit_rounding = timedelta(seconds=1)
    assert all(b >= a - reddit_rounding for a, b in zip(times, times[1:], strict=False))
    minutes = (times[-1] - START).total_seconds() / 60
    assert 1500 / minutes == pytest.approx(60, rel=0.15)


def _mentions(posts: list, term: str, start: datetime, end: datetime) -> int:
    return sum(1 for p in posts if start <= p.event.created_at < end and term.casefold() in p.event.text.casefold())


@pytest.mark.parametrize("negative", [False, True])
def test_generator_spike_raises_term_volume_by_factor(negative: bool) -> None:
    spike = Spike(at=START + timedelta(minutes=60), term="Vertex", factor=6, duration=timedelta(minutes=20),
                  negative=negative)
    posts = generate(5000, start=START, seed=3, rate_per_minute=40, spikes=(spike,))
    before = _mentions(posts, "Vertex", START + timedelta(minutes=20), spike.at) / 2  # 40 min → per 20 min
    during = _mentions(posts, "Vertex", spike.at, spike.end)
    after = _mentions(posts, "Vertex", spike.end, spike.end + timedelta(minutes=20))
    assert during / before == pytest.approx(6, rel=0.35)
    assert after < 2 * before
    spiked = [p for p in posts if p.spike is spike]
    assert spiked and all("vertex" in p.event.text.casefold() for p in spiked)
    crisis_words = ("overheating", "calienta", "quema", "superaquecendo", "surchauffe", "hot")
    with_crisis = sum(any(w in p.event.text for w in crisis_words) for p in spiked)
    if negative:
        assert with_crisis > 0.8 * len(spiked)
    else:
        assert with_crisis < len(spiked) / 2


def test_generator_spike_on_a_non_brand_term_appears_in_text() -> None:
    spike = Spike(at=START, term="#outage", factor=50, duration=timedelta(minutes=30))
    posts = generate(600, start=START, seed=1, rate_per_minute=20, spikes=(spike,))
    assert _mentions(posts, "#outage", START, spike.end) > 50


def test_generator_rejects_bad_config() -> None:
    with pytest.raises(ValueError):
        GeneratorConfig(start=datetime(2026, 1, 1))  # naive  # noqa: DTZ001
    with pytest.raises(ValueError):
        Spike(at=START, term="x", factor=0.5)
    with pytest.raises(ValueError):
        Spike(at=START, term="x", factor=2, duration=timedelta(0))


def test_generator_mixed_records_hold_both_shapes(posts: list) -> None:
    recs = mixed_records(posts[:200], raw_share=0.5, seed=1)
    raw = sum(1 for r in recs if "event_id" not in r)
    assert 60 < raw < 140


def test_generator_iterates_lazily() -> None:
    gen = Generator(GeneratorConfig(start=START, seed=9))
    first = [next(iter(gen)).event for _ in range(3)]
    assert len({e.event_id for e in first}) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", timedelta(seconds=30)), ("10m", timedelta(minutes=10)), ("2h", timedelta(hours=2)),
     ("1d", timedelta(days=1)), ("1.5h", timedelta(minutes=90))],
)
def test_generator_cli_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_generator_cli_parse_spike() -> None:
    s = parse_spike("at=+30m,term=Nimbus,factor=8,duration=10m,negative", start=START)
    assert s == Spike(at=START + timedelta(minutes=30), term="Nimbus", factor=8.0,
                      duration=timedelta(minutes=10), negative=True)
    s2 = parse_spike("at=2026-11-01T09:00:00Z,term=#outage", start=START)
    assert s2.at == datetime(2026, 11, 1, 9, tzinfo=UTC) and s2.factor == 5 and not s2.negative
    for bad in ("term=Nimbus", "at=+1m", "at=+1x,term=a", "at=+1m,term=a,colour=red", "at=+1m,term=a,oops"):
        with pytest.raises(ValueError):
            parse_spike(bad, start=START)


def test_generator_committed_sample_is_reproducible_and_has_the_spike() -> None:
    from streams.cli import main

    lines = SAMPLE.read_bytes().splitlines()
    assert len(lines) >= 600
    now = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
    events = [decode_raw(line, topic="t", partition=0, offset=i, key=None, now=now) for i, line in enumerate(lines)]
    assert all(isinstance(e, RawEvent) for e in events)
    assert {e.network for e in events} == set(Network)
    assert sum(1 for line in lines if b'"event_id"' not in line[:20]) > 200  # raw network shapes
    spike_at = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    during = sum(1 for e in events if spike_at <= e.created_at < spike_at + timedelta(minutes=30)
                 and "nimbus" in e.text.lower())
    before = sum(1 for e in events if spike_at - timedelta(hours=3) <= e.created_at < spike_at
                 and "nimbus" in e.text.lower()) / 6
    assert during > 5 * before
    assert main  # the README's command regenerates the file byte for byte:


def test_generator_cli_regenerates_sample(tmp_path: Path) -> None:
    from streams.cli import main

    out = tmp_path / "posts.jsonl"
    code = main(["generate", "--count", "990", "--seed", "2026", "--start", "2026-11-25T06:00:00Z",
                 "--rate-per-minute", "2.5", "--spike", "at=+5h,term=Nimbus,factor=8,duration=30m,negative",
                 "--format", "mixed", "--out", str(out)])
    assert code == 0
    assert out.read_bytes() == SAMPLE.read_bytes()
