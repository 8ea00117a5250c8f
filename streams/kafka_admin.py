"""Topic creation with kafka-python's admin client (idempotent)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.settings import KafkaSettings

log = logging.getLogger(__name__)


def pipeline_topics(kafka: KafkaSettings) -> list[str]:
    return [kafka.raw_topic, kafka.enriched_topic, kafka.deadletter_topic, kafka.alerts_topic]


def ensure_topics(kafka: KafkaSettings, names: Iterable[str] | None = None) -> list[str]:
    """Create the missing topics; returns the names created now."""
    wanted = list(names) if names is not None else pipeline_topics(kafka)
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, client_id="socialpulse-admin",
                             request_timeout_ms=15_000)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return []
        new = [NewTopic(name, num_partitions=kafka.partitions, replication_factor=kafka.replication_factor)
               for name in missing]
        try:
            admin.create_topics(new, timeout_ms=15_000)
        except TopicAlreadyExistsError:  # a concurrent creator won the race: fine
            log.info("topics already created concurrently: %s", missing)
        return missing
    finally:
        admin.close()
