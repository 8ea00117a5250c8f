"""The worker's one Kafka producer for the pipeline's stages: idempotent, acks=all, batched by partition.

A message above the topic's size limit is refused before anything is sent (`RecordTooLarge`): the broker would
refuse it, and an idempotent producer then fails the messages behind it with OutOfOrderSequenceNumber.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from mode import Service

from streams.runtime.failure_policy import RecordTooLarge
from streams.runtime.partitioner import default_partitioner, key_partitions
from streams.settings import KafkaSettings

# Bytes a record adds to its key and value inside a record batch (headers, varints, the batch header): a message
# fits the topic's limit when key + value + this does.
RECORD_OVERHEAD_BYTES = 512
SEND_ONE_BY_ONE_BELOW = 16


class BatchProducer(Service):
    """One idempotent producer (acks=all) per worker; sends are batched by the client (linger)."""

    def __init__(self, kafka: KafkaSettings, *, client_id: str, max_message_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kafka, self._client_id = kafka, client_id
        self.max_message_bytes = max_message_bytes
        self._producer: AIOKafkaProducer | None = None

    async def on_start(self) -> None:
        # aiokafka clients bind to the running loop: created here, not in __init__.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._kafka.bootstrap_servers, client_id=self._client_id, acks="all",
            enable_idempotence=True, linger_ms=self._kafka.producer_linger_ms,
            max_batch_size=self._kafka.producer_batch_bytes, partitioner=default_partitioner,
            max_request_size=max(self.max_message_bytes, self._kafka.producer_batch_bytes),
        )
        await self._producer.start()

    async def on_stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def enqueue(self, messages: Sequence[tuple[str, bytes | None, bytes]]) -> list[asyncio.Future[Any]]:
        """Hand (topic, key, value) messages to the client as record batches, one or more per partition, in order;
        each future resolves when the broker acknowledged its batch.

        Batches rather than `send()` per message: `send()` costs ~15 µs of Python per message (a future, a
        partitioner call and metadata checks each), a batch append ~1 µs (bench/RESULTS.md). Partitions are
        Kafka's default (murmur2 of the key), as `send()` would pick them."""
        producer = self._producer
        if producer is None:
            raise RuntimeError("the producer is not started")
        for topic, key, value in messages:  # before anything is sent: all of the batch or none of it
            check_size(topic, key, value, self.max_message_bytes)
        if len(messages) < SEND_ONE_BY_ONE_BELOW:
            # A few messages (a connector's frame): `send()` joins them to the partition's open batch, which lingers
            # for more; a record batch of their own would be a request of its own, and the idempotent producer
            # sends one request per partition at a time (~300 frames/s, bench/RESULTS.md "Connectors").
            return [await producer.send(topic, value, key=key) for topic, key, value in messages]
        by_partition: dict[tuple[str, int], list[tuple[bytes | None, bytes]]] = {}
        by_topic: dict[str, list[tuple[bytes | None, bytes]]] = {}
        for topic, key, value in messages:
            by_topic.setdefault(topic, []).append((key, value))
        for topic, records in by_topic.items():
            every = sorted(await producer.partitions_for(topic))
            for partition, record in zip(key_partitions([k for k, _ in records], every), records, strict=True):
                by_partition.setdefault((topic, partition), []).append(record)
        pending: list[asyncio.Future[Any]] = []
        for (topic, partition), records in by_partition.items():
            batch = producer.create_batch()
            for key, value in records:
                if batch.append(timestamp=None, key=key, value=value, headers=[]) is None:  # full
                    pending.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(timestamp=None, key=key, value=value, headers=[])  # the first always fits
            pending.append(await producer.send_batch(batch, topic, partition=partition))
        return pending

    async def send_all(self, messages: Sequence[tuple[str, bytes | None, bytes]]) -> None:
        """Returns once the broker acknowledged every message (raises otherwise)."""
        await acknowledged(await self.enqueue(messages))


def check_size(topic: str, key: bytes | None, value: bytes | None, limit: int) -> None:
    size = len(key or b"") + len(value or b"") + RECORD_OVERHEAD_BYTES
    if size > limit:
        raise RecordTooLarge(topic, size, limit)


async def acknowledged(pending: Sequence[asyncio.Future[Any]]) -> None:
    """Wait for every send; raise the first failure only after all are done (no result is left unretrieved)."""
    results = await asyncio.gather(*pending, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]
