"""Where connectors keep their resume points: the compacted sources topic, one SourceCheckpoint per source id.

`load` reads the whole topic once at start-up (compaction keeps it to about one message per source) and returns the
newest checkpoint of a source; `save` produces one and waits for the broker's acknowledgement. The runner calls
`save` only after every post read before the checkpoint was acknowledged (streams/sources/connectors/runner.py).
"""

from __future__ import annotations

import logging
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.source_checkpoint import SourceCheckpoint
from streams import codec
from streams.runtime.producer import BatchProducer

log = logging.getLogger(__name__)


class CheckpointStore(Protocol):
    async def load(self, source: str) -> SourceCheckpoint | None: ...
    async def save(self, checkpoint: SourceCheckpoint) -> None: ...


class KafkaCheckpoints:
    def __init__(self, *, bootstrap_servers: str, topic: str, producer: BatchProducer) -> None:
        self._bootstrap, self.topic, self._producer = bootstrap_servers, topic, producer

    async def load(self, source: str) -> SourceCheckpoint | None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False,
                                    client_id=f"socialpulse-checkpoints-{source}")
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(self.topic)
            if partitions is None:
                await consumer._client.force_metadata_update()  # a consumer without a group knows no topics yet
                partitions = consumer.partitions_for_topic(self.topic)
            if not partitions:
                raise RuntimeError(f"checkpoint topic {self.topic} does not exist: run `socialpulse setup`")
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            latest: SourceCheckpoint | None = None
            key = source.encode()
            while not await _reached(consumer, ends):
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        if record.key != key or record.value is None:
                            continue
                        try:
                            latest = codec.decode_model(record.value, SourceCheckpoint)
                        except codec.CodecError as exc:  # someone else's bytes: never a reason not to start
                            log.warning("checkpoint %s@%d unreadable (%s); ignored", self.topic, record.offset, exc)
            return latest
        finally:
            await consumer.stop()

    async def save(self, checkpoint: SourceCheckpoint) -> None:
        await self._producer.send_all([(self.topic, checkpoint.source.encode(), codec.encode_model(checkpoint))])


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


class MemoryCheckpoints:
    """For tests: the checkpoints a runner wrote, in order."""

    def __init__(self, initial: SourceCheckpoint | None = None) -> None:
        self.saved: list[SourceCheckpoint] = [initial] if initial is not None else []

    async def load(self, source: str) -> SourceCheckpoint | None:
        mine = [c for c in self.saved if c.source == source]
        return mine[-1] if mine else None

    async def save(self, checkpoint: SourceCheckpoint) -> None:
        self.saved.append(checkpoint)
