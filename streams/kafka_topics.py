"""The catalogue of the pipeline's Kafka topics: one entry per topic, with everything `setup` creates it with.

In socialpulse "topic" means a Kafka topic and nothing else (what a post is matched against are brand queries,
processors/brand_queries.py). A topic's name comes from the settings (``SOCIALPULSE_KAFKA__RAW_TOPIC`` ...,
defaulting to the published contract's name in schemas/topics.py); its partitions, replication factor and
message limit too; its cleanup policy and retention are declared here. Settings validation, `socialpulse setup`
(streams/kafka_admin.py), the consumer-group names and the size bounds of producers and dead letters all read
this catalogue, so adding a topic is one entry in ``_DECLARED`` (and its settings field ``<role>_topic``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from schemas.topics import ALERTS, COUNTS, DEADLETTER, DELETIONS, ENRICHED, INCIDENTS, RAW, SOURCES, TopicSpec

Role = Literal["raw", "enriched", "deadletter", "counts", "alerts", "incidents", "deletions", "sources"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True)
class _Declared:
    contract: TopicSpec
    # The group reading the topic is "<app id><group_suffix>"; None: nothing in the pipeline reads it.
    group_suffix: str | None
    cleanup_policy: Literal["delete", "compact"] = "delete"
    # None: the broker's log.retention.* (Kafka's default 7 days; the local stack keeps 24 h to spare the disk).
    # The raw topic's retention is how long `redrive` can re-read a dead letter's full original.
    retention_ms: int | None = None


_DECLARED: Mapping[Role, _Declared] = {
    "raw": _Declared(RAW, group_suffix="-enrich"),
    "enriched": _Declared(ENRICHED, group_suffix="-clickhouse-sink"),
    "deadletter": _Declared(DEADLETTER, group_suffix="-deadletter-sink"),
    # Read by the worker's Faust agent in Faust's own group "<app id>" (streams/alerting/); its state lives in
    # Faust's changelog topics "<app id>-spike-*-changelog", which Faust creates and owns. The partials are
    # consumed within seconds: a day covers a stopped spike detector.
    "counts": _Declared(COUNTS, group_suffix="", retention_ms=24 * 3600 * 1000),
    "alerts": _Declared(ALERTS, group_suffix=None),
    "incidents": _Declared(INCIDENTS, group_suffix=None),
    # Produced by the connectors (socialpulse listen); nothing in the pipeline consumes them yet.
    "deletions": _Declared(DELETIONS, group_suffix=None),
    # One checkpoint per source, read back whole when a connector starts: compaction keeps the latest per key.
    "sources": _Declared(SOURCES, group_suffix=None, cleanup_policy="compact"),
}
assert tuple(_DECLARED) == ROLES, "declare every role once, in Role's order"


@dataclass(frozen=True)
class KafkaTopic:
    role: Role
    name: str
    contract: TopicSpec  # key and value model of its messages
    partitions: int
    replication_factor: int
    # `setup` creates the topic with this max.message.bytes (settings kafka.max_message_bytes, 1 MiB by default,
    # under Kafka's default 1,048,588), so it holds whatever the broker's own default is; producers refuse a
    # larger record before sending it (streams/runtime/producer.py).
    max_message_bytes: int
    cleanup_policy: str
    retention_ms: int | None
    group_suffix: str | None

    def configs(self) -> dict[str, str]:
        """Topic-level configs `setup` creates the topic with."""
        configs = {"cleanup.policy": self.cleanup_policy, "max.message.bytes": str(self.max_message_bytes)}
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        return configs

    def consumer_group(self, app_id: str) -> str | None:
        return None if self.group_suffix is None else f"{app_id}{self.group_suffix}"


def default_name(role: Role) -> str:
    """The published contract's topic name, the default of the settings field ``<role>_topic``."""
    return _DECLARED[role].contract.name


def kafka_topics(names: Mapping[Role, str], *, partitions: int, replication_factor: int,
                 max_message_bytes: int) -> tuple[KafkaTopic, ...]:
    """Every topic of the pipeline, in flow order; raises ValueError if two roles were given the same name."""
    if len(set(names.values())) != len(ROLES):
        raise ValueError(f"Kafka topics must be distinct, got {dict(names)}")
    return tuple(KafkaTopic(role, names[role], d.contract, partitions, replication_factor, max_message_bytes,
                            d.cleanup_policy, d.retention_ms, d.group_suffix)
                 for role, d in _DECLARED.items())
