"""How far the pipeline has got: consumer-group offsets and lag per topic, read from the broker.

Each pipeline topic has its own consumer group (streams.settings.consumer_groups). The sink commits an offset
only after its rows are in ClickHouse, so "no lag on the raw and enriched topics" means every replayed post is
queryable (or dead-lettered).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError


@dataclass(frozen=True)
class TopicProgress:
    committed: int  # messages the group has committed (uncommitted partitions count as 0)
    end: int  # messages in the topic

    @property
    def lag(self) -> int:
        return self.end - self.committed


def pipeline_progress(bootstrap_servers: str, groups: Mapping[str, str]) -> dict[str, TopicProgress]:
    """Per topic, the progress of the group consuming it (`groups`: streams.settings.consumer_groups).
    One admin client, one consumer and one offsets request for all groups."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="socialpulse-progress")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, client_id="socialpulse-progress",
                             enable_auto_commit=False)
    try:
        try:
            offsets = admin.list_group_offsets(dict.fromkeys(groups.values()))
        except KafkaError as exc:
            if not exc.retriable:
                raise
            offsets = {}  # e.g. a fresh broker still creating __consumer_offsets: nothing committed yet
        progress = {}
        for topic, group in groups.items():
            committed_by_group = offsets.get(group, {})
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
            ends = consumer.end_offsets(tps) if tps else {}
            committed = sum(max(0, committed_by_group[tp].offset) if tp in committed_by_group else 0 for tp in ends)
            progress[topic] = TopicProgress(committed=committed, end=sum(ends.values()))
        return progress
    finally:
        consumer.close()
        admin.close()


def pipeline_lag(bootstrap_servers: str, groups: Mapping[str, str]) -> dict[str, int]:
    """Messages not yet committed, per topic, by the group consuming it."""
    return {t: p.lag for t, p in pipeline_progress(bootstrap_servers, groups).items()}


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
