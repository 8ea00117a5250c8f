"""The catalogue of Kafka topics (streams/kafka_topics.py): names from settings, validation, what setup creates."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import streams.kafka_admin as kafka_admin
from schemas.topics import TOPICS
from streams.kafka_topics import ROLES
from streams.settings import (
    KafkaSettings,
    Settings,
    WorkerSettings,
    consumer_groups,
    settings_with_env,
    topic_names_env,
)


def test_kafka_topics_default_names_are_the_published_contracts():
    topics = KafkaSettings().topics()
    assert [t.role for t in topics] == list(ROLES)
    assert sorted(t.name for t in topics) == sorted(TOPICS)
    assert all(TOPICS[t.name] is t.contract for t in topics)


def test_kafka_topics_names_partitions_and_limit_come_from_settings():
    settings = settings_with_env({**topic_names_env("t.x"), "SOCIALPULSE_KAFKA__PARTITIONS": "3",
                                  "SOCIALPULSE_KAFKA__MAX_MESSAGE_BYTES": "500000"})
    raw = settings.kafka.topic("raw")
    assert (raw.name, raw.partitions, raw.max_message_bytes) == ("t.x.raw", 3, 500_000)
    assert [t.name for t in settings.kafka.topics()] == [f"t.x.{role}" for role in ROLES]
    assert settings.kafka.raw_topic == "t.x.raw"  # the user-facing field names still work


@pytest.mark.parametrize("role", ["enriched", "deadletter", "alerts"])
def test_kafka_topics_two_roles_with_one_name_fail_at_start_up(role):
    with pytest.raises(ValidationError, match="Kafka topics must be distinct"):
        Settings(kafka=KafkaSettings(**{f"{role}_topic": "social.raw.v1"}))


def test_kafka_topics_configs_setup_creates_them_with():
    topic = KafkaSettings().topic("deadletter")
    assert topic.max_message_bytes == KafkaSettings().max_message_bytes == 1_048_576
    assert topic.configs() == {"cleanup.policy": "delete", "max.message.bytes": "1048576"}


def test_kafka_topics_consumer_groups_per_consumed_topic():
    settings = Settings(worker=WorkerSettings(app_id="sp"))
    assert consumer_groups(settings) == {"social.raw.v1": "sp-enrich", "social.enriched.v1": "sp-clickhouse-sink",
                                         "social.deadletter.v1": "sp-deadletter-sink",
                                         "social.counts.v1": "sp"}  # Faust's own group: its agent reads it


class FakeAdmin:
    created: list = []

    def __init__(self, **kwargs):
        pass

    def list_topics(self):
        return ["social.raw.v1"]

    def create_topics(self, new, timeout_ms):
        FakeAdmin.created = new

    def close(self):
        pass


def test_kafka_topics_ensure_topics_creates_the_missing_ones_from_the_catalogue(monkeypatch):
    monkeypatch.setattr(kafka_admin, "KafkaAdminClient", FakeAdmin)
    kafka = KafkaSettings(partitions=3, replication_factor=2)
    missing = ["social.enriched.v1", "social.deadletter.v1", "social.counts.v1", "social.alerts.v1",
               "social.incidents.v1", "social.deletions.v1", "social.sources.v1"]
    assert kafka_admin.ensure_topics(kafka) == missing
    delete = {"cleanup.policy": "delete", "max.message.bytes": "1048576"}
    assert [(t.name, t.num_partitions, t.replication_factor, t.topic_configs) for t in FakeAdmin.created] == [
        ("social.enriched.v1", 3, 2, delete), ("social.deadletter.v1", 3, 2, delete),
        ("social.counts.v1", 3, 2, {**delete, "retention.ms": "86400000"}),  # consumed within seconds
        *((name, 3, 2, delete) for name in missing[3:-1]),
        ("social.sources.v1", 3, 2, {**delete, "cleanup.policy": "compact"})]  # the latest checkpoint per source
