"""Topic creation with kafka-python's admin client (idempotent), from the catalogue in streams/kafka_topics.py."""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.settings import KafkaSettings

log = logging.getLogger(__name__)


def ensure_topics(kafka: KafkaSettings) -> list[str]:
    """Create the catalogue's missing topics with its partitions, replication and configs; returns the names
    created now. Existing topics are left as they are (changing partitions reorders keys, see deploy/k8s)."""
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, client_id="socialpulse-admin",
                             request_timeout_ms=15_000)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in kafka.topics() if t.name not in existing]
        if not missing:
            return []
        new = [NewTopic(t.name, num_partitions=t.partitions, replication_factor=t.replication_factor,
                        topic_configs=t.configs()) for t in missing]
        try:
            admin.create_topics(new, timeout_ms=15_000)
        except TopicAlreadyExistsError:  # a concurrent creator won the race: fine
            log.info("topics already created concurrently: %s", [t.name for t in missing])
        return [t.name for t in missing]
    finally:
        admin.close()
