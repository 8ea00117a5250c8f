"""SIGTERM flushes in-flight batches and commits: what a stopped worker committed is exactly what it wrote.

With NLP on: the NLP process must finish the batches in hand after the worker got SIGTERM, and pass-through
(~20k events/s) could finish all 30k events before the signal landed."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer

from streams.progress import pipeline_progress
from streams.settings import consumer_groups
from streams.workers import with_children
from tests.support import Pipeline

T0 = datetime(2026, 11, 2, tzinfo=UTC)
TOTAL = 30_000


def produce_comments(pipeline: Pipeline) -> None:
    kafka = pipeline.settings.kafka
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


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return not Path(f"/proc/{pid}").exists()


def test_shutdown_sigterm_commits_exactly_what_was_written(pipeline: Pipeline):
    kafka, db = pipeline.settings.kafka, pipeline.settings.clickhouse.database
    produce_comments(pipeline)

    worker = pipeline.start_worker()
    pipeline.wait_for_rows(f"SELECT count() FROM {db}.events", 5_000, timeout=180)
    nlp_processes = with_children(worker.pid)[1:]
    assert len(nlp_processes) == 1, nlp_processes
    worker.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert worker.wait(timeout=60) == 0, pipeline.worker_log(0)
    stop_seconds = time.monotonic() - started
    assert wait_gone(nlp_processes[0]), "the NLP process outlived its worker"

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


def test_shutdown_kill_9_takes_the_nlp_process_along_and_a_restart_stores_every_event_once(pipeline: Pipeline):
    db = pipeline.settings.clickhouse.database
    produce_comments(pipeline)
    worker = pipeline.start_worker()
    pipeline.wait_for_rows(f"SELECT count() FROM {db}.events", 5_000, timeout=180)
    nlp_processes = with_children(worker.pid)[1:]
    assert len(nlp_processes) == 1, nlp_processes
    pipeline.kill_worker(0)
    assert wait_gone(nlp_processes[0], seconds=15), "the NLP process outlived its worker killed with -9"
    assert pipeline.scalar(f"SELECT uniqExact(event_id) FROM {db}.events") < TOTAL, "killed mid-stream"

    pipeline.start_worker()  # uncommitted batches are enriched again: rows deduplicate
    pipeline.wait_for_rows(f"SELECT uniqExact(event_id) FROM {db}.events", TOTAL, timeout=300, allow_dead={0})
    assert pipeline.scalar(f"SELECT count() FROM {db}.events FINAL") == TOTAL
