"""Replay source: JSONL/CSV parsing, normalise-or-pass-through, pacing, summary (producer mocked)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas import RawEvent
from streams.sources.replay import Prepared, SourceRecord, prepare, produce, read_records, replay

FIXTURES = Path(__file__).parent / "fixtures" / "networks"
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class FakeFuture:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def add_callback(self, fn: Any) -> FakeFuture:
        if not self.fail:
            fn(object())
        return self

    def add_errback(self, fn: Any) -> FakeFuture:
        if self.fail:
            fn(RuntimeError("broker said no"))
        return self


class FakeProducer:
    def __init__(self, fail_every: int = 0) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.fail_every = fail_every
        self.flushed = self.closed = False

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> FakeFuture:
        self.sent.append((topic, key, value))
        return FakeFuture(bool(self.fail_every) and len(self.sent) % self.fail_every == 0)

    def flush(self, timeout: float | None = None) -> None:
        self.flushed = True

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


def write_jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_generator_replay_jsonl_normalizes_splits_and_passes_bad_lines(tmp_path: Path) -> None:
    page = json.dumps(json.loads((FIXTURES / "x_search_page.json").read_text())).encode()
    tweet = json.dumps(json.loads((FIXTURES / "x_tweet.json").read_text())).encode()
    path = write_jsonl(tmp_path / "in.jsonl", [tweet, b"", b"{broken", page, b'{"foo": 1}', b"\r"])
    records = list(read_records([path]))
    assert [r.origin.rsplit(":", 1)[1] for r in records] == ["1", "3", "4#0", "4#1", "5"]
    prepared = [prepare(r, now=NOW) for r in records]
    assert [p.event_id for p in prepared] == [
        "x:1861423378612428800", None, "x:1861500000000000001", "x:1861500000000000002", None
    ]
    assert prepared[0].key == b"x:1861423378612428800"
    assert RawEvent.model_validate_json(prepared[0].value).ingested_at == NOW
    assert prepared[1].value == b"{broken" and prepared[1].key is None  # original bytes, for the DLQ
    assert prepared[4].value == b'{"foo": 1}' and "unknown_shape" in (prepared[4].error or "")


def test_generator_replay_as_is_keeps_original_bytes(tmp_path: Path) -> None:
    line = (FIXTURES / "bluesky_post.json").read_bytes().replace(b"\n", b"")
    [record] = list(read_records([write_jsonl(tmp_path / "a.jsonl", [line])]))
    p = prepare(record, now=NOW, normalize=False)
    assert p.value == line and p.key is None


def test_generator_replay_csv_with_payload_column(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "payload"])
        w.writerow(["reddit", json.dumps(json.loads((FIXTURES / "reddit_comment.json").read_text()))])
        w.writerow(["broken", "not json"])
    prepared = [prepare(r, now=NOW) for r in read_records([path])]
    assert [p.event_id for p in prepared] == ["reddit:t1_lzq4k2m", None]
    assert prepared[1].value == b"not json"


def test_generator_replay_csv_flat_raw_event_columns(tmp_path: Path) -> None:
    path = tmp_path / "flat.csv"
    path.write_text(
        "event_id,network,native_id,kind,author.id,author_handle,author.followers,text,created_at,"
        "engagement.likes,lang_hint\n"
        'x:7,x,7,post,u1,ana,12,"Café Luna, ¡qué rico! ☕",2026-11-25T10:00:00Z,3,es\n'
        "x:8,x,8,post,u2,,,Vertex Fold hype,2026-11-25T10:01:00Z,,\n",
        encoding="utf-8",
    )
    events = [RawEvent.model_validate_json(prepare(r, now=NOW).value) for r in read_records([path])]
    assert events[0].author.handle == "ana" and events[0].author.followers == 12
    assert events[0].text == "Café Luna, ¡qué rico! ☕" and events[0].engagement.likes == 3
    assert events[1].author.handle == "" and events[1].lang_hint is None


def test_generator_replay_produce_counts_and_skips(tmp_path: Path) -> None:
    items = [Prepared(b"k", b"v", "x:1"), Prepared(None, b"bad", None, "line 2: nope"), Prepared(b"k", b"v", "x:2")]
    prod = FakeProducer()
    s = produce(items, producer=prod, topic="t")
    assert (s.sent, s.failed, s.unparsed, s.skipped) == (3, 0, 1, 0) and prod.flushed
    prod2 = FakeProducer()
    s2 = produce(items, producer=prod2, topic="t", skip_invalid=True)
    assert (s2.sent, s2.unparsed, s2.skipped) == (2, 1, 1) and len(prod2.sent) == 2
    s3 = produce(items, producer=FakeProducer(fail_every=2), topic="t")
    assert (s3.sent, s3.failed) == (2, 1) and "broker said no" in s3.errors[-1]
    assert "sent=2 failed=1" in s3.line()


def test_generator_replay_produce_refuses_a_record_over_the_topic_limit_and_sends_the_rest() -> None:
    items = [Prepared(b"x:1", b"v" * 100, "x:1"), Prepared(b"x:2", b"v" * 70_000, "x:2"),
             Prepared(b"x:3", b"v", "x:3")]
    prod = FakeProducer()
    s = produce(items, producer=prod, topic="t", max_message_bytes=65_536)
    assert (s.sent, s.failed) == (2, 1) and len(prod.sent) == 2
    assert "x:2 not sent" in s.errors[-1] and "over its limit of 65,536 bytes" in s.errors[-1]


def test_generator_replay_rate_limits_with_injected_clock() -> None:
    t = [0.0]
    slept: list[float] = []

    def sleep(d: float) -> None:
        slept.append(d)
        t[0] += d

    items = [Prepared(b"k", b"v", f"x:{i}") for i in range(10)]
    s = produce(items, producer=FakeProducer(), topic="t", rate=5, clock=lambda: t[0], sleep=sleep)
    assert s.sent == 10 and s.elapsed == pytest.approx(2.0)
    assert s.rate == pytest.approx(5.0)


def test_generator_replay_sample_files_end_to_end_with_fake_producer() -> None:
    prod = FakeProducer()
    s = replay([SAMPLE_DIR / "posts.jsonl", SAMPLE_DIR / "bad.jsonl"], bootstrap_servers="unused:1",
               topic="social.raw.v1", producer=prod, progress=False, now=lambda: NOW)
    posts = sum(1 for _ in (SAMPLE_DIR / "posts.jsonl").open())
    assert s.sent == posts + 12 and s.unparsed == 12 and s.failed == 0
    assert all(topic == "social.raw.v1" for topic, _, _ in prod.sent)
    keys = [k for _, k, _ in prod.sent[:posts]]
    assert all(keys) and len(set(keys)) == posts  # every sample post keyed by a unique event_id
    assert not prod.closed  # a producer passed in is the caller's to close


def test_generator_replay_source_record_without_json() -> None:
    p = prepare(SourceRecord("f:1", b"\xff\xfe", None), now=NOW)
    assert p.event_id is None and p.value == b"\xff\xfe"
