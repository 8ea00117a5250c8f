"""Issue 3 acceptance on the real stack: 10,000 events, ~10 % malformed in 11 ways. Every good event is in
ClickHouse exactly once, every bad one is in the dead-letter topic and table with the right code, the worker
never restarted; then a fix + `redrive` brings the rejected-but-valid posts in."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, KafkaProducer

from streams import deadletters
from streams.sources.generator import generate
from streams.sources.replay import make_producer
from tests.support import Pipeline

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
MAX_TEXT = 400


def malformed(good: dict, i: int) -> tuple[str, bytes]:
    """The i-th kind of bad record, built from a good RawEvent dict, with the code it must get."""
    now = datetime.now(UTC)
    kinds = [
        ("empty_payload", b""),
        ("invalid_utf8", b'{"text": "caf\xe9"}'),
        ("invalid_json", json.dumps(good).encode()[:-7]),
        ("not_an_object", b'["x", 1]'),
        ("unknown_network", json.dumps({**good, "network": "friendster",
                                        "event_id": f"friendster:{good['native_id']}"}).encode()),
        ("missing_field", json.dumps({k: v for k, v in good.items() if k != "author"}).encode()),
        ("wrong_type", json.dumps({**good, "author": "someone"}).encode()),
        ("text_too_long", json.dumps({**good, "text": "long post " * 60}).encode()),
        ("timestamp_out_of_range", json.dumps({**good, "created_at": (now + timedelta(days=3)).isoformat()}).encode()),
        ("control_characters", json.dumps({**good, "text": "bell\x07 in the middle"}).encode()),
        ("unknown_shape", json.dumps({"hello": "world", "id": i}).encode()),
    ]
    return kinds[i % len(kinds)]


def test_deadletters_10k_events_with_10_percent_poison_lose_nothing(pipeline: Pipeline):
    kafka, db = pipeline.settings.kafka, pipeline.settings.clickhouse.database
    posts = generate(9_000, start=START, seed=7, rate_per_minute=60)
    good = [p.event.model_dump(mode="json") for p in posts]
    rng = random.Random(3)
    records: list[tuple[bytes | None, bytes]] = [(g["event_id"].encode(), json.dumps(g).encode()) for g in good]
    expected_codes: Counter[str] = Counter()
    for i in range(1_000):
        code, value = malformed(rng.choice(good), i)
        expected_codes[code] += 1
        records.append((None, value))
    rng.shuffle(records)
    good_ids = {g["event_id"] for g in good}

    pipeline.start_worker(extra_env={"SOCIALPULSE_NLP__MAX_TEXT_CHARS": str(MAX_TEXT)})
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=20)
    for key, value in records:
        producer.send(kafka.raw_topic, key=key, value=value)
    producer.flush(timeout=60)
    producer.close()

    pipeline.wait_for_rows(f"SELECT uniqExact(event_id) FROM {db}.events", len(good_ids), timeout=400)
    pipeline.wait_for_rows(f"SELECT count() FROM {db}.dead_letters FINAL", 1_000, timeout=120)

    client = pipeline.clickhouse()
    assert pipeline.scalar(f"SELECT count() FROM {db}.events FINAL") == len(good_ids)
    stored = {row[0] for row in client.execute(f"SELECT event_id FROM {db}.events FINAL")}
    assert stored == good_ids
    codes = Counter(dict(client.execute(f"SELECT error_code, count() FROM {db}.dead_letters FINAL "
                                        "GROUP BY error_code")))
    assert codes == expected_codes
    assert len(codes) >= 8

    # the dead-letter topic holds the same 1,000, with the original bytes
    consumer = KafkaConsumer(kafka.deadletter_topic, bootstrap_servers=kafka.bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    letters = [json.loads(m.value) for m in consumer]
    consumer.close()
    assert Counter(letter["error_code"] for letter in letters) == expected_codes

    # the worker never crashed or restarted an agent
    assert pipeline.live_workers() == pipeline.workers
    log = pipeline.worker_log(0)
    assert "Restarting" not in log and "CRITICAL" not in log

    # after a fix (a larger text limit), redrive brings the too-long posts in; nothing else changes
    pipeline.stop_workers()
    pipeline.start_worker()  # default limit, 10,000 chars
    chosen = deadletters.fetch(client, db, codes=["text_too_long"], limit=10_000)
    assert len(chosen) == expected_codes["text_too_long"]
    too_long = {json.loads(letter.original)["event_id"] for letter in chosen}
    producer = make_producer(kafka.bootstrap_servers)
    read_record, close_reader = deadletters.record_reader(kafka.bootstrap_servers)
    assert deadletters.redrive(chosen, producer=producer, read_record=read_record) == len(chosen)
    close_reader()
    producer.close()
    expected = len(good_ids | too_long)
    pipeline.wait_for_rows(f"SELECT uniqExact(event_id) FROM {db}.events", expected, timeout=120)
    assert pipeline.scalar(f"SELECT count() FROM {db}.events FINAL") == expected
