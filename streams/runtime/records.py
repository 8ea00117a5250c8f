"""What every stage handles: consumed Kafka records, outgoing messages, dead letters for records, batch tokens."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from schemas import DeadLetter, ErrorCode
from streams import codec
from streams.metrics import Metrics
from streams.runtime.failure_policy import OnRetry, RetryPolicy, describe, error_code, until_done


class KafkaRecord(Protocol):
    """The parts of a consumed message the stages use (aiokafka's ConsumerRecord has them)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Destination(StrEnum):
    ENRICHED = "enriched"
    DEADLETTER = "deadletter"


@dataclass(frozen=True)
class Outgoing:
    destination: Destination
    key: bytes
    value: bytes


def batch_token(records: Sequence[KafkaRecord]) -> str:
    """Names a batch by what it holds — its offset range per partition and a digest of its keys — for insert
    deduplication: the same records give the same token (a retried INSERT), and a recreated topic that reuses
    offsets for other events does not."""
    ranges: dict[tuple[str, int], tuple[int, int]] = {}
    digest = hashlib.blake2b(digest_size=12)
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        lo, hi = ranges.get((r.topic, r.partition), (r.offset, r.offset))
        ranges[(r.topic, r.partition)] = (min(lo, r.offset), max(hi, r.offset))
        digest.update(r.key or b"\0")
        digest.update(r.offset.to_bytes(8, "little"))
    spans = ",".join(f"{t}/{p}:{lo}-{hi}" for (t, p), (lo, hi) in sorted(ranges.items()))
    return f"{spans}|{digest.hexdigest()}"


def dead_letter_for(record: KafkaRecord, *, code: ErrorCode, message: str, stage: str, event_id: str | None,
                    now: datetime) -> DeadLetter:
    return codec.make_dead_letter(record.value, topic=record.topic, partition=record.partition,
                                  offset=record.offset, key=record.key, code=code, message=message, stage=stage,
                                  event_id=event_id, now=now)


def dead_letter_message(letter: DeadLetter) -> Outgoing:
    return Outgoing(Destination.DEADLETTER, letter.dead_letter_id.encode(), codec.encode_model(letter))


def key_event_id(record: KafkaRecord) -> str | None:
    """The record's key as an event id (raw and enriched records are keyed by event_id), when it reads as one."""
    try:
        text = record.key.decode("utf-8") if record.key else None
    except UnicodeDecodeError:
        return None
    return text if text and len(text) <= 300 else None


Send = Callable[[Sequence[tuple[str, bytes, bytes]]], Awaitable[None]]


async def send_isolated_dead_letter(record: KafkaRecord, exc: BaseException, *, stage: str, topic: str, send: Send,
                                    policy: RetryPolicy, on_retry: OnRetry, metrics: Metrics, now: datetime) -> None:
    """The dead letter of a record the failure policy isolated (`exc` each time), coded by `error_code(exc)`: sent
    to `topic` (infrastructure faults retried for as long as it takes), then counted."""
    letter = dead_letter_for(record, code=error_code(exc), message=describe(exc), stage=stage,
                             event_id=key_event_id(record), now=now)
    message = dead_letter_message(letter)
    await until_done(lambda: send([(topic, message.key, message.value)]), policy=policy,
                     what=f"{stage} dead letter", on_retry=on_retry)
    metrics.dead_letter(letter.error_code.value, letter.stage)
