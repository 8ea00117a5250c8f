"""Reading and redriving dead letters stored in ClickHouse (the topic stays the source of truth)."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clickhouse_driver import Client

from schemas import ErrorCode
from streams.sinks.clickhouse.client import check_identifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredDeadLetter:
    dead_letter_id: str
    error_code: str
    stage: str
    error_message: str
    event_id: str
    failed_at: datetime
    key: bytes | None
    original: bytes  # whole, or its first bytes when `original_size` is larger (schemas/deadletter.py)
    source_topic: str = ""
    partition: int = 0
    offset: int = 0
    original_size: int = 0  # 0: stored before sizes were recorded (whole then)
    original_sha256: str = ""

    @property
    def truncated(self) -> bool:
        return self.original_size > len(self.original)


def _filters(codes: list[str] | None, ids: list[str] | None, since: datetime | None) -> tuple[str, dict[str, Any]]:
    for code in codes or []:
        ErrorCode(code)  # ValueError with the bad code for unknown ones
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if codes:
        clauses.append("error_code IN %(codes)s")
        params["codes"] = tuple(codes)
    if ids:
        clauses.append("dead_letter_id IN %(ids)s")
        params["ids"] = tuple(ids)
    if since:
        clauses.append("failed_at >= %(since)s")
        params["since"] = since.replace(tzinfo=None)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def summary_by_code(client: Client, database: str, *, since: datetime | None = None) -> list[tuple[Any, ...]]:
    where, params = _filters(None, None, since)
    rows: list[tuple[Any, ...]] = client.execute(
        f"SELECT error_code, stage, count(), max(failed_at) FROM {check_identifier(database)}.dead_letters FINAL"
        f"{where} GROUP BY error_code, stage ORDER BY count() DESC", params)
    return rows


def fetch(client: Client, database: str, *, codes: list[str] | None = None, ids: list[str] | None = None,
          since: datetime | None = None, limit: int = 100) -> list[StoredDeadLetter]:
    where, params = _filters(codes, ids, since)
    params["limit"] = limit
    rows = client.execute(
        "SELECT dead_letter_id, error_code, stage, error_message, event_id, failed_at, key_b64, original_b64, "
        "source_topic, partition, offset, original_size, original_sha256 "
        f"FROM {check_identifier(database)}.dead_letters FINAL{where} "
        "ORDER BY failed_at DESC, dead_letter_id LIMIT %(limit)s", params)
    return [StoredDeadLetter(r[0], r[1], r[2], r[3], r[4], r[5], base64.b64decode(r[6]) if r[6] else None,
                             base64.b64decode(r[7]), *r[8:]) for r in rows]


ReadRecord = Callable[[str, int, int], tuple[bytes | None, bytes | None] | None]


# Kafka's legal topic names (a source id such as "bluesky:jetstream" is not one).
KAFKA_TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")


def whole_original(letter: StoredDeadLetter, read_record: ReadRecord) -> tuple[bytes | None, bytes] | None:
    """The dead letter's key and whole original: from the letter, or, when it kept only a prefix, read back from
    its source topic (`read_record(topic, partition, offset)` -> (key, value) or None once it is no longer
    retained) and checked against the recorded sha256."""
    if not letter.truncated:
        return letter.key, letter.original
    if not KAFKA_TOPIC_NAME.fullmatch(letter.source_topic):
        # A connector's record over the message limit: refused before it reached Kafka, so its source is the
        # connector's source id (streams/sources/connectors/runner.py) and nothing can be read back.
        log.error("%s: the original (%d bytes) never reached Kafka (source %s); only its first %d bytes are kept",
                  letter.dead_letter_id, letter.original_size, letter.source_topic, len(letter.original))
        return None
    record = read_record(letter.source_topic, letter.partition, letter.offset)
    if record is None or record[1] is None:
        log.error("%s: the original (%d bytes) is no longer in %s", letter.dead_letter_id, letter.original_size,
                  letter.source_topic)
        return None
    key, value = record
    assert value is not None  # checked above
    if hashlib.sha256(value).hexdigest() != letter.original_sha256:
        log.error("%s: the record at %s[%d]@%d is not the original (sha256 differs)", letter.dead_letter_id,
                  letter.source_topic, letter.partition, letter.offset)
        return None
    return key, value


def redrive(letters: list[StoredDeadLetter], *, producer: Any, read_record: ReadRecord) -> int:
    """Re-submit each letter's whole original bytes (and key) to the topic it failed on — the raw topic for what
    the enrich stage refused, the enriched topic for rows ClickHouse refused — so it meets the stage that failed
    on it again; returns how many the broker acknowledged."""
    futures = []
    for letter in letters:
        original = whole_original(letter, read_record)
        if original is not None:
            futures.append(producer.send(letter.source_topic, key=original[0], value=original[1]))
    producer.flush(timeout=60)
    return sum(1 for f in futures if f.succeeded())


def record_reader(bootstrap_servers: str) -> tuple[ReadRecord, Callable[[], None]]:
    """A `ReadRecord` on a kafka-python consumer of its own (no group, nothing committed), and its close."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers.split(","), enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=10_000, max_partition_fetch_bytes=16 * 1024 * 1024)

    def read(topic: str, partition: int, offset: int) -> tuple[bytes | None, bytes | None] | None:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        if offset < consumer.beginning_offsets([tp])[tp]:
            return None
        consumer.seek(tp, offset)
        for message in consumer:
            if message.offset == offset:
                return message.key, message.value
            if message.offset > offset:
                break
        return None

    return read, consumer.close
