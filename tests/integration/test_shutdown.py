"""SIGTERM flushes in-flight batches and commits: what a stopped worker committed is exactly what it wrote.

With NLP on: the NLP process must finish the batches in hand after the worker got SIGTERM, and pass-through
(~20k events/s) could finish all 30k events before the signal landed."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer

from streams.progress import pipeline_progress
from streams.settings import consumer_groups
from tests.support import Pipeline

T0 = datetime(2026, 11, 2, tzinfo=UTC)
TOTAL = 30_000


def test_shutdown_sigterm_commits_exactly_what_was_written(pipeline: Pipeline):
    kafka, db = pipeline.settings.kafka, pipeline.settings.clickhouse.database
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=20)
    for i in range(TOTAL):
        event_id = f"youtube:c{i}"
        created = (T0 + timedelta(seconds=i)).isoformat()
        producer.send(kafka.raw_topic, key=event_id.encode(), value=json.dumps({
            "event_id": event_id, "network": "youtube", "native_id": f"c{i}", "kind": "comment",
            "author": {"id": f"u{i % 101}"}, "text": f"comment {i}", "created_at": created,
            "ingested_at": created}).encode())
    producer.flush(timeout=60)
    producer.close()

    worker = pipeline.start_worker()
    pipeline.wait_for_rows(f"SELECT count() FROM {db}.events", 5_000, timeout=180)
    worker.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert worker.wait(timeout=60) == 0, pipeline.worker_log(0)
    stop_seconds = time.monotonic() - started

    progress = pipeline_progress(kafka.bootstrap_servers, consumer_groups(pipeline.settings))
    written = pipeline.scalar(f"SELECT uniqExact(event_id) FROM {db}.events")
    raw, enriched = progress[kafka.raw_topic], progress[kafka.enriched_topic]
    assert 0 < written < TOTAL, "stopped mid-stream"
    # the sink committed exactly the rows it wrote; the enricher committed exactly what it produced
    assert enriched.committed == written
    assert raw.committed == enriched.end
    assert stop_seconds < 40

    pipeline.start_worker(enrich=False)  # the rest quickly
    pipeline.wait_for_rows(f"SELECT uniqExact(event_id) FROM {db}.events", TOTAL, timeout=300, allow_dead={0})
    assert pipeline.scalar(f"SELECT count() FROM {db}.events FINAL") == TOTAL
