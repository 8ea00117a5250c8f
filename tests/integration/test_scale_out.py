"""Two worker processes share the partitions of one consumer group; results stay exact."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from kafka import KafkaAdminClient, KafkaProducer

from streams.settings import consumer_groups
from tests.support import Pipeline

T0 = datetime(2026, 11, 3, tzinfo=UTC)
TOTAL = 20_000


def test_scale_out_two_workers_split_partitions_and_count_exactly(pipeline: Pipeline):
    kafka, db = pipeline.settings.kafka, pipeline.settings.clickhouse.database
    pipeline.start_worker(enrich=False)
    pipeline.start_worker(enrich=False)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=20)
    for i in range(TOTAL):
        event_id = f"bluesky:at://did:plc:{i % 50}/app.bsky.feed.post/{i}"
        created = (T0 + timedelta(seconds=i)).isoformat()
        producer.send(kafka.raw_topic, key=event_id.encode(), value=json.dumps({
            "event_id": event_id, "network": "bluesky", "native_id": event_id.split(":", 1)[1], "kind": "post",
            "author": {"id": f"did:plc:{i % 50}"}, "text": f"post {i}", "created_at": created,
            "ingested_at": created}).encode())
    producer.flush(timeout=60)
    producer.close()
    pipeline.wait_for_rows(f"SELECT uniqExact(event_id) FROM {db}.events", TOTAL, timeout=300)
    assert pipeline.scalar(f"SELECT count() FROM {db}.events FINAL") == TOTAL

    # both workers are members and own disjoint halves of the raw topic
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    enrich_group = consumer_groups(pipeline.settings)[kafka.raw_topic]
    deadline = time.monotonic() + 30
    while True:
        group = admin.describe_groups([enrich_group])[enrich_group]
        # mid-rebalance a member's assignment is still empty (not decoded): ask again
        owned = [sorted(p for a in m["member_assignment"]["assigned_partitions"] if a["topic"] == kafka.raw_topic
                        for p in a["partitions"]) for m in group["members"] if isinstance(m["member_assignment"], dict)]
        if (len(owned) == 2 and group["group_state"] == "Stable") or time.monotonic() > deadline:
            break
        time.sleep(1)
    admin.close()
    assert len(owned) == 2
    assert sorted(owned[0] + owned[1]) == list(range(kafka.partitions))
    assert owned[0] and owned[1]
    # both did work: each worker's partitions hold rows in ClickHouse
    partitions = {row[0] for row in pipeline.clickhouse().execute(
        f"SELECT DISTINCT kafka_partition FROM {db}.events")}
    assert partitions == set(range(kafka.partitions))
    # rebalances finished in time: no member was expelled for failing to rejoin (a stage holding up its
    # revocation, e.g. waiting on a fetch that waits on the rebalance, gets expelled after the session timeout)
    for index in (0, 1):
        assert "was not recognized" not in pipeline.worker_log(index), pipeline.worker_log(index)
