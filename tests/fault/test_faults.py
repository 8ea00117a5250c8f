"""Nothing lost, nothing doubled: kill -9 a worker, stop ClickHouse for 60 s, restart the broker — each in the
middle of a 100k-event replay. Workers run in pass-through mode (enrichment off) so that 100k events take
seconds, not minutes; the delivery path under test (consume → produce → insert → commit) is the same."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer

from tests.support import Pipeline, assert_poison_mix_outcome, fault_injection_env, poison_mix, produce_all

TOTAL = 100_000
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def encoded_events(count: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(count):
        event_id = f"reddit:t1_{i:07d}"
        created = (T0 + timedelta(seconds=i)).isoformat()
        out.append((event_id.encode(), json.dumps({
            "event_id": event_id, "network": "reddit", "native_id": f"t1_{i:07d}", "kind": "comment",
            "author": {"id": f"u{i % 997}", "handle": f"user{i % 997}"},
            "text": f"comment number {i} about #brand{i % 13}", "lang_hint": "en",
            "created_at": created, "ingested_at": created,
        }).encode()))
    return out


class Replay(threading.Thread):
    """Produces the events at a steady pace in the background, retrying through broker outages."""

    def __init__(self, bootstrap: str, topic: str, events: list[tuple[bytes, bytes]], per_second: int) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.events, self.per_second = bootstrap, topic, events, per_second
        self.error: BaseException | None = None
        self.sent = 0  # handed to the producer so far (a stuck replay says how far it got)

    def run(self) -> None:
        try:
            producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=20,
                                     enable_idempotence=True, retries=2**31 - 1, delivery_timeout_ms=300_000,
                                     max_block_ms=300_000)
            chunk = max(1, self.per_second // 10)
            for start in range(0, len(self.events), chunk):
                began = time.monotonic()
                for key, value in self.events[start:start + chunk]:
                    producer.send(self.topic, key=key, value=value)
                    self.sent += 1
                time.sleep(max(0.0, 0.1 - (time.monotonic() - began)))
            producer.flush(timeout=300)
            producer.close()
        except BaseException as exc:  # noqa: BLE001 - surfaced by the test
            self.error = exc


def start_replay(p: Pipeline, per_second: int = 5000) -> Replay:
    replay = Replay(p.settings.kafka.bootstrap_servers, p.settings.kafka.raw_topic, encoded_events(TOTAL),
                    per_second)
    replay.start()
    return replay


def assert_exactly_once(p: Pipeline, replay: Replay) -> None:
    replay.join(timeout=300)
    assert not replay.is_alive(), f"replay stuck after handing {replay.sent} of {TOTAL} events to the producer"
    assert replay.error is None, replay.error
    db = p.settings.clickhouse.database
    p.wait_for_rows(f"SELECT uniqExact(event_id) FROM {db}.events", TOTAL, timeout=420,
                    allow_dead=set(range(len(p.workers) - 1)))
    assert p.scalar(f"SELECT count(DISTINCT event_id) FROM {db}.events") == TOTAL
    assert p.scalar(f"SELECT count() FROM {db}.events FINAL") == TOTAL  # what users query: no duplicates
    assert p.scalar(f"SELECT count() FROM {db}.dead_letters") == 0
    assert_rollups_match_a_recount(p)


def assert_rollups_match_a_recount(p: Pipeline) -> None:
    """The per-minute rollups (fed by materialized views on every insert, duplicates included) say exactly
    what a recount over the deduplicated events says."""
    db = p.settings.clickhouse.database
    client = p.clickhouse()
    rollup = client.execute(
        f"SELECT minute, network, language, sentiment_label, uniqExactMerge(posts), uniqExactMerge(authors) "
        f"FROM {db}.volume_minute GROUP BY minute, network, language, sentiment_label "
        f"ORDER BY minute, network, language, sentiment_label")
    recount = client.execute(
        f"SELECT toStartOfMinute(created_at) AS minute, network, language, sentiment_label, count(), "
        f"uniqExact(author_id) FROM {db}.events FINAL GROUP BY minute, network, language, sentiment_label "
        f"ORDER BY minute, network, language, sentiment_label")
    assert len(recount) > 1000
    # the driver returns `minute` naive and toStartOfMinute() tz-aware (UTC): compare the instants
    assert [(m.replace(tzinfo=None), *rest) for m, *rest in rollup] == \
        [(m.replace(tzinfo=None), *rest) for m, *rest in recount]


def test_fault_kill_9_worker_mid_replay_loses_and_doubles_nothing(fault_pipeline):
    p = fault_pipeline
    p.start_worker(enrich=False)
    replay = start_replay(p)
    p.wait_for_rows(f"SELECT count() FROM {p.settings.clickhouse.database}.events", 30_000, timeout=300)
    p.kill_worker(0)
    p.start_worker(enrich=False)
    assert_exactly_once(p, replay)


def test_fault_clickhouse_down_60s_mid_replay_catches_up_by_itself(fault_pipeline, fault_stack):
    p = fault_pipeline
    p.start_worker(enrich=False)
    replay = start_replay(p)
    p.wait_for_rows(f"SELECT count() FROM {p.settings.clickhouse.database}.events", 20_000, timeout=300)
    fault_stack("stop", "clickhouse")
    time.sleep(60)
    assert p.live_workers() == p.workers, "a worker died while ClickHouse was down"
    fault_stack("up", "clickhouse")
    assert_exactly_once(p, replay)
    assert p.live_workers() == p.workers


def test_fault_broker_restart_mid_replay_loses_and_doubles_nothing(fault_pipeline, fault_stack):
    p = fault_pipeline
    p.start_worker(enrich=False)
    replay = start_replay(p)
    p.wait_for_rows(f"SELECT count() FROM {p.settings.clickhouse.database}.events", 20_000, timeout=300)
    fault_stack("restart", "kafka")
    assert_exactly_once(p, replay)


def test_fault_poison_records_with_clickhouse_down_30s_are_isolated_and_nothing_else_is_lost(fault_pipeline,
                                                                                               fault_stack):
    """The poison mix of tests/integration/test_poison_isolation.py, with ClickHouse stopped for 30 s while it is
    processed: the outage blocks and recovers (no good record is dead-lettered for it), the poison is isolated."""
    p = fault_pipeline
    records, bad = poison_mix(2_000)
    half = len(records) // 2
    bootstrap, topic = p.settings.kafka.bootstrap_servers, p.settings.kafka.raw_topic
    produce_all(bootstrap, topic, records[:half])
    p.start_worker(extra_env=fault_injection_env())
    p.wait_for_rows(f"SELECT count() FROM {p.settings.clickhouse.database}.events", 200, timeout=300)
    fault_stack("stop", "clickhouse")
    produce_all(bootstrap, topic, records[half:])
    time.sleep(30)
    assert p.live_workers() == p.workers, "a worker died while ClickHouse was down"
    fault_stack("up", "clickhouse")
    assert_poison_mix_outcome(p, 2_000, bad, timeout=300)
