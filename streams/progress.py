"""How far the pipeline has got: consumer-group lag per topic, read from the broker.

The sink acknowledges an offset only after its rows are in ClickHouse, so "no lag on the raw and enriched
topics" means every replayed post is queryable (or dead-lettered).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition


def group_lag(bootstrap_servers: str, group_id: str, topics: Iterable[str]) -> dict[str, int]:
    """Messages not yet committed by `group_id`, per topic (uncommitted partitions count from offset 0)."""
    topics = list(topics)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="socialpulse-progress")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, client_id="socialpulse-progress",
                             enable_auto_commit=False)
    try:
        committed = admin.list_group_offsets({group_id: None}).get(group_id, {})
        lag = {}
        for topic in topics:
            partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in partitions]
            ends = consumer.end_offsets(tps) if tps else {}
            lag[topic] = sum(
                max(0, end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0))
                for tp, end in ends.items()
            )
        return lag
    finally:
        consumer.close()
        admin.close()


def wait_until_drained(
    lag_of: Callable[[], dict[str, int]],
    *,
    timeout: float,
    on_progress: Callable[[dict[str, int]], None] | None = None,
    interval: float = 1.0,
) -> dict[str, int]:
    """Poll until every lag is 0 twice in a row; raises TimeoutError with the last lag otherwise."""
    deadline = time.monotonic() + timeout
    zero_seen = False
    while True:
        lag = lag_of()
        if on_progress:
            on_progress(lag)
        if all(v == 0 for v in lag.values()):
            if zero_seen:
                return lag
            zero_seen = True
        else:
            zero_seen = False
        if time.monotonic() > deadline:
            raise TimeoutError(f"pipeline still has lag after {timeout:.0f}s: {lag}")
        time.sleep(interval)
