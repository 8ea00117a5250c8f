"""kill -9 the only worker while a brand query's baseline builds: its spike still alerts exactly once, with the
observed count ClickHouse holds for the minute. The restarted worker starts with a fresh data directory, so its
history can only come from the changelog topics: without them the baseline would restart at the kill, and 6
minutes of history are below the detector's 10 (min_history), so nothing would alert."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from schemas import Alert
from streams.progress import pipeline_progress
from streams.settings import consumer_groups
from streams.sources.generator import Generator, GeneratorConfig, Spike
from tests.support import Pipeline, produce_all

KILL_AFTER_MINUTE, SPIKE_AT = 8, 14


def stream(now: datetime) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]], datetime]:
    start = (now - timedelta(minutes=24)).replace(second=0, microsecond=0)
    spike = Spike(at=start + timedelta(minutes=SPIKE_AT), term="Nimbus", factor=8, duration=timedelta(minutes=6),
                  negative=True)
    before, after = [], []
    for post in Generator(GeneratorConfig(start=start, seed=23, rate_per_minute=60, spikes=(spike,))):
        if post.event.created_at >= now - timedelta(seconds=10):
            break
        record = (post.event.event_id.encode(), post.event.model_dump_json().encode())
        (before if post.event.created_at < start + timedelta(minutes=KILL_AFTER_MINUTE + 1) else after).append(record)
    return before, after, start


def closed_until(port: int) -> float:
    """The lowest minute the worker's detector closed over its partitions (0 before any)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310
            text = response.read().decode()
    except OSError:
        return 0.0
    values = [s.value for f in text_string_to_metric_families(text)
              if f.name == "socialpulse_alerting_watermark_seconds" for s in f.samples]
    return min(values) if values else 0.0


def test_fault_kill_9_while_the_baseline_builds_still_alerts_once_with_the_true_count(fault_pipeline: Pipeline):
    p = fault_pipeline
    kafka, db = p.settings.kafka, p.settings.clickhouse.database
    before, after, start = stream(datetime.now(UTC))
    produce_all(kafka.bootstrap_servers, kafka.raw_topic, before)
    p.start_worker()
    deadline = time.monotonic() + 180
    baseline_until = (start + timedelta(minutes=KILL_AFTER_MINUTE - 1)).timestamp()
    while closed_until(p.web_ports[0]) < baseline_until:
        assert time.monotonic() < deadline, p.worker_log(0)
        assert p.workers[0].poll() is None, p.worker_log(0)
        time.sleep(0.5)
    # the detector committed what it read: the restarted worker does not replay the counts topic, so its history
    # can only come from the changelog
    while True:
        counts = pipeline_progress(kafka.bootstrap_servers, consumer_groups(p.settings))[kafka.counts_topic]
        if counts.end and counts.committed == counts.end:
            break
        assert time.monotonic() < deadline, (counts, p.worker_log(0))
        time.sleep(0.2)
    p.kill_worker(0)  # mid-baseline: enriched and stored batches may be uncommitted, and get redelivered

    produce_all(kafka.bootstrap_servers, kafka.raw_topic, after)
    p.start_worker()  # worker-1: a fresh data directory
    consumer = KafkaConsumer(kafka.alerts_topic, bootstrap_servers=kafka.bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=1000, group_id=None)
    spikes: list[Alert] = []
    deadline = time.monotonic() + 240
    while not spikes and time.monotonic() < deadline:
        assert p.workers[1].poll() is None, p.worker_log(1)
        spikes = [a for a in (Alert.model_validate_json(m.value) for m in consumer)
                  if (a.kind, a.subject_type, a.subject) == ("volume_spike", "topic", "nimbus")]
    assert spikes, p.worker_log(1)
    # the rest of the stream is consumed and the detector has passed the spike: no second alert comes
    p.wait_for_rows(f"SELECT uniqExact(event_id) FROM {db}.events", len(before) + len(after), timeout=180,
                    allow_dead={0})
    time.sleep(5)
    spikes += [a for a in (Alert.model_validate_json(m.value) for m in consumer)
               if (a.kind, a.subject_type, a.subject) == ("volume_spike", "topic", "nimbus")]
    consumer.close()
    assert len(spikes) == 1, [a.alert_id for a in spikes]
    alert = spikes[0]
    assert alert.window_start == start + timedelta(minutes=SPIKE_AT)
    true_count = p.scalar(
        f"SELECT uniqExact(event_id) FROM {db}.events WHERE has(topics, 'nimbus') "
        f"AND toStartOfMinute(created_at) = toDateTime(%(minute)s)",
        {"minute": alert.window_start.replace(tzinfo=None)})
    assert alert.observed == true_count
    # the 8 baseline minutes before the kill were restored, not restarted: the baseline is the steady rate
    assert alert.baseline > 0 and alert.observed > 4 * alert.baseline
