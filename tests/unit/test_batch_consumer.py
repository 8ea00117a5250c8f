"""BatchConsumer's commit discipline with a scripted consumer: batches, overlap, order, idle, stop, rebalance."""

from __future__ import annotations

import asyncio
import time
from collections import namedtuple
from typing import Any

import pytest
from aiokafka import TopicPartition

from streams.runtime.batch_consumer import BatchConsumer, _WaitForBatch
from streams.settings import KafkaSettings

Rec = namedtuple("Rec", "topic partition offset key value")
TP0, TP1 = TopicPartition("raw", 0), TopicPartition("raw", 1)


class ScriptedConsumer:
    """getmany() hands out the scripted fetches one by one, then nothing; commits are recorded."""

    def __init__(self, fetches: list[dict[TopicPartition, list[Rec]]]) -> None:
        self.fetches = list(fetches)
        self.commits: list[dict[TopicPartition, int]] = []
        self.assigned = {TP0, TP1}

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Rec]]:
        if self.fetches:
            return self.fetches.pop(0)
        await asyncio.sleep(timeout_ms / 1000)
        return {}

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))


def recs(tp: TopicPartition, start: int, n: int) -> list[Rec]:
    return [Rec(tp.topic, tp.partition, o, None, b"x") for o in range(start, start + n)]


def stage(consumer: ScriptedConsumer, handle: Any, *, size: int = 4, within: float = 0.05) -> BatchConsumer:
    s = BatchConsumer(KafkaSettings(), name="t", topic="raw", group_id="g", size=size, within=within, handle=handle)
    s._consumer = consumer  # type: ignore[assignment]
    return s


def durable_when(gate: asyncio.Event) -> Any:
    """A handler whose batches become durable (acknowledged) once `gate` is set."""
    async def handle(batch: list[Rec]) -> Any:
        async def durable() -> None:
            await gate.wait()

        return durable()

    return handle


async def run_until(s: BatchConsumer, done: Any, timeout: float = 5.0) -> None:
    task = asyncio.create_task(s._run())
    deadline = asyncio.get_running_loop().time() + timeout
    while not done() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    s._stopping = True
    await asyncio.wait_for(task, timeout)


def test_batch_consumer_batches_hold_at_most_size_records_and_commit_next_offsets_per_partition():
    consumer = ScriptedConsumer([{TP0: recs(TP0, 0, 3), TP1: recs(TP1, 10, 3)}])
    seen: list[list[int]] = []

    async def handle(batch: list[Rec]) -> None:
        seen.append([r.offset for r in batch])

    asyncio.run(run_until(stage(consumer, handle, size=6), lambda: consumer.commits))
    assert seen == [[0, 1, 2, 10, 11, 12]]
    assert consumer.commits == [{TP0: 3, TP1: 13}]


def test_batch_consumer_next_batch_is_handled_while_the_previous_settles_and_commits_stay_in_order():
    consumer = ScriptedConsumer([{TP0: recs(TP0, 0, 4)}, {TP0: recs(TP0, 4, 4)}])
    events: list[str] = []
    gates: list[asyncio.Event] = []

    async def handle(batch: list[Rec]) -> Any:
        first = batch[0].offset
        events.append(f"handled {first}")
        g = asyncio.Event()
        gates.append(g)

        async def durable() -> None:
            await g.wait()
            events.append(f"durable {first}")

        return durable()

    async def scenario() -> None:
        s = stage(consumer, handle)
        task = asyncio.create_task(s._run())
        while len(events) < 2:
            await asyncio.sleep(0.01)
        # batch 4 was handled although batch 0 is not durable yet, and nothing is committed
        assert events == ["handled 0", "handled 4"] and consumer.commits == []
        gates[0].set()
        await asyncio.sleep(0.05)
        assert consumer.commits == [{TP0: 4}]  # batch 0 committed once durable; batch 4 still in flight
        gates[1].set()
        await asyncio.sleep(0.1)  # idle: the in-flight batch settles without waiting for more records
        assert consumer.commits == [{TP0: 4}, {TP0: 8}]
        s._stopping = True
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert events == ["handled 0", "handled 4", "durable 0", "durable 4"]


def test_batch_consumer_a_rebalance_waits_for_the_batch_in_flight_and_its_commit():
    consumer = ScriptedConsumer([{TP0: recs(TP0, 0, 2), TP1: recs(TP1, 0, 2)}])

    async def scenario() -> None:
        gate = asyncio.Event()
        handle = durable_when(gate)
        s = stage(consumer, handle, within=0.2)
        task = asyncio.create_task(s._run())
        await asyncio.sleep(0.05)
        revoke = asyncio.create_task(_WaitForBatch(s).on_partitions_revoked({TP0, TP1}))
        await asyncio.sleep(0.05)
        assert not revoke.done() and consumer.commits == []  # the rebalance waits for the batch in flight
        gate.set()
        await asyncio.wait_for(revoke, 5)
        assert consumer.commits == [{TP0: 2, TP1: 2}]
        s._stopping = True
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())


def test_batch_consumer_stop_waits_for_the_batch_in_flight_then_commits_it():
    consumer = ScriptedConsumer([{TP0: recs(TP0, 0, 4)}])

    async def scenario() -> None:
        gate = asyncio.Event()
        handle = durable_when(gate)
        s = stage(consumer, handle)
        task = asyncio.create_task(s._run())
        await asyncio.sleep(0.05)
        s._stopping = True  # what on_stop does first (SIGTERM)
        await asyncio.sleep(0.1)
        assert not task.done() and consumer.commits == []
        gate.set()
        await asyncio.wait_for(task, 5)
        assert consumer.commits == [{TP0: 4}]

    asyncio.run(scenario())


def test_batch_consumer_offsets_of_partitions_no_longer_owned_are_not_committed():
    consumer = ScriptedConsumer([{TP0: recs(TP0, 0, 2), TP1: recs(TP1, 0, 2)}])

    async def handle(batch: list[Rec]) -> None:
        consumer.assigned = {TP1}  # TP0 moved to another worker meanwhile (e.g. our session expired)

    asyncio.run(run_until(stage(consumer, handle), lambda: consumer.commits))
    assert consumer.commits == [{TP1: 2}]


class RebalancingConsumer(ScriptedConsumer):
    """Like aiokafka: once a rebalance starts, getmany() waits for the new assignment, which the coordinator
    makes only after `on_partitions_revoked` returned."""

    def __init__(self, fetches: list[dict[TopicPartition, list[Rec]]]) -> None:
        super().__init__(fetches)
        self.reassigning = False
        self.assigned_event = asyncio.Event()

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Rec]]:
        if self.reassigning:
            await self.assigned_event.wait()
        return await super().getmany(timeout_ms=timeout_ms, max_records=max_records)


def test_batch_consumer_a_rebalance_does_not_wait_on_a_fetch_that_waits_on_the_rebalance():
    consumer = RebalancingConsumer([{TP0: recs(TP0, 0, 4)}])
    handled: list[int] = []

    async def handle(batch: list[Rec]) -> None:
        handled.extend(r.offset for r in batch)

    async def scenario() -> None:
        s = stage(consumer, handle, within=0.2)
        task = asyncio.create_task(s._run())
        while not consumer.commits:
            await asyncio.sleep(0.01)
        consumer.reassigning = True  # the stage is (or soon is) inside getmany(), waiting for the assignment
        await asyncio.sleep(0.3)
        await asyncio.wait_for(_WaitForBatch(s).on_partitions_revoked({TP0, TP1}), 2)  # no deadlock
        consumer.fetches.append({TP0: recs(TP0, 4, 2)})
        consumer.reassigning = False
        consumer.assigned_event.set()
        while len(consumer.commits) < 2:
            await asyncio.sleep(0.01)
        s._stopping = True
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert handled == [0, 1, 2, 3, 4, 5]
    assert consumer.commits == [{TP0: 4}, {TP0: 6}]


def test_batch_consumer_records_fetched_before_a_revocation_are_dropped_not_handled():
    consumer = ScriptedConsumer([{TP0: recs(TP0, 0, 2)}])
    handled: list[list[int]] = []

    async def handle(batch: list[Rec]) -> None:
        handled.append([r.offset for r in batch])

    async def scenario() -> None:
        s = stage(consumer, handle, size=10, within=0.3)
        listener = _WaitForBatch(s)
        original = consumer.getmany

        async def revoking_getmany(*, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Rec]]:
            if consumer.fetches or handled or s._generation:
                return await original(timeout_ms=timeout_ms, max_records=max_records)
            # second call of the first batch: a rebalance runs; the new assignment re-fetches from offset 0
            await listener.on_partitions_revoked({TP0, TP1})
            return {TP0: recs(TP0, 0, 3)}

        consumer.getmany = revoking_getmany  # type: ignore[method-assign]
        task = asyncio.create_task(s._run())
        while not consumer.commits:
            await asyncio.sleep(0.01)
        s._stopping = True
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert handled == [[0, 1, 2]]  # offsets 0-1 from before the revocation were not handled twice in one batch
    assert consumer.commits == [{TP0: 3}]


StampedRec = namedtuple("StampedRec", "topic partition offset key value timestamp")


def test_batch_consumer_the_window_counts_from_when_the_oldest_record_was_written():
    def stamped(start: int, n: int, age: float) -> list[StampedRec]:
        written = int((time.time() - age) * 1000)
        return [StampedRec("raw", 0, o, None, b"x", written) for o in range(start, start + n)]

    async def take(fetches: list[dict[TopicPartition, list[Any]]], within: float) -> tuple[list[int], float]:
        s = stage(ScriptedConsumer(fetches), None, size=100, within=within)
        started = time.monotonic()
        records, _ = await s._take()
        return [r.offset for r in records], time.monotonic() - started

    # records that waited in Kafka longer than the window (a stage behind, or busy with the previous batch):
    # no extra wait, and what is already fetched comes along
    offsets, took = asyncio.run(take([{TP0: stamped(0, 3, age=10)}, {TP0: stamped(3, 2, age=10)}], within=5.0))
    assert offsets == [0, 1, 2, 3, 4] and took < 1.0
    # fresh records: the batch waits the window for more
    offsets, took = asyncio.run(take([{TP0: stamped(0, 3, age=0)}], within=0.3))
    assert offsets == [0, 1, 2] and 0.25 <= took < 1.0


class _RecordingBatch:
    """aiokafka's BatchBuilder, remembering the keys appended to it."""

    def __init__(self, batch_size: int) -> None:
        from aiokafka.producer.message_accumulator import BatchBuilder

        self._builder = BatchBuilder(batch_size, 0)  # 0: no compression
        self.keys: list[bytes] = []

    def append(self, *, timestamp: Any, key: bytes, value: bytes, headers: Any) -> Any:
        metadata = self._builder.append(timestamp=timestamp, key=key, value=value, headers=headers)
        if metadata is not None:
            self.keys.append(key)
        return metadata


class _FakeAioProducer:
    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.sent: list[tuple[str, int, list[bytes]]] = []
        self.singles: list[tuple[str, int, bytes | None]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2, 3}

    def create_batch(self) -> _RecordingBatch:
        return _RecordingBatch(self.batch_size)

    async def send_batch(self, batch: _RecordingBatch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        self.sent.append((topic, partition, batch.keys))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    async def send(self, topic: str, value: bytes, *, key: bytes | None) -> asyncio.Future[Any]:
        """aiokafka's send(): the message joins the partition's open batch (the partitioner given at creation)."""
        from streams.runtime.partitioner import default_partitioner

        self.singles.append((topic, default_partitioner(key, [0, 1, 2, 3], [0, 1, 2, 3]), key))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def test_producer_batches_go_to_kafkas_default_partition_in_order_and_split_when_full():
    from streams.runtime.partitioner import default_partitioner
    from streams.runtime.producer import BatchProducer

    keys = [f"x:{i}".encode() for i in range(200)]
    fake = _FakeAioProducer(batch_size=2_000)  # ~20 records of 80 bytes: several batches per partition
    producer = BatchProducer(KafkaSettings(), client_id="test", max_message_bytes=1_048_576)
    producer._producer = fake  # type: ignore[assignment]

    async def main() -> int:
        pending = await producer.enqueue([("t", k, b"v" * 60) for k in keys] + [("u", keys[0], b"v")])
        return len(pending)

    assert asyncio.run(main()) == len(fake.sent)
    for _topic, partition, batch_keys in fake.sent:
        assert batch_keys, "no empty batch is sent"
        assert all(default_partitioner(k, [0, 1, 2, 3], [0, 1, 2, 3]) == partition for k in batch_keys)
    per_partition: dict[int, list[bytes]] = {}
    for topic, partition, batch_keys in fake.sent:
        if topic == "t":
            per_partition.setdefault(partition, []).extend(batch_keys)
    assert sorted(k for ks in per_partition.values() for k in ks) == sorted(keys)  # every message, once
    for sent_keys in per_partition.values():
        assert sent_keys == [k for k in keys if k in set(sent_keys)]  # in the order given
    assert len(fake.sent) > 4 + 1  # full batches were split
    assert [(t, ks) for t, _, ks in fake.sent if t == "u"] == [("u", [keys[0]])]


def test_producer_a_few_messages_join_the_open_batches_instead_of_requests_of_their_own():
    """A connector's frame is one or two messages: record batches of their own would each be a produce request,
    one at a time per partition under idempotence (bench/RESULTS.md, "Connectors")."""
    from streams.runtime.producer import SEND_ONE_BY_ONE_BELOW, BatchProducer

    fake = _FakeAioProducer(batch_size=2_000)
    producer = BatchProducer(KafkaSettings(), client_id="test", max_message_bytes=1_048_576)
    producer._producer = fake  # type: ignore[assignment]
    few = [("t", f"x:{i}".encode(), b"v") for i in range(SEND_ONE_BY_ONE_BELOW - 1)]
    assert len(asyncio.run(producer.enqueue(few))) == len(few)
    assert fake.sent == [] and [key for _, _, key in fake.singles] == [k for _, k, _ in few], "in order"
    asyncio.run(producer.enqueue(few + [("t", b"x:last", b"v")]))
    assert fake.sent and len(fake.singles) == len(few), "from SEND_ONE_BY_ONE_BELOW on, record batches"


def test_producer_refuses_a_batch_holding_a_message_over_the_limit_before_sending_any_of_it():
    from streams.runtime.failure_policy import RecordTooLarge
    from streams.runtime.producer import BatchProducer

    fake = _FakeAioProducer(batch_size=100_000)
    producer = BatchProducer(KafkaSettings(), client_id="test", max_message_bytes=70_000)
    producer._producer = fake  # type: ignore[assignment]
    fits, too_large = b"v" * (70_000 - 512 - 3), b"v" * (70_000 - 512 - 2)
    assert len(asyncio.run(producer.enqueue([("t", b"k:1", fits)]))) == 1
    with pytest.raises(RecordTooLarge, match="70,001 bytes for t"):
        asyncio.run(producer.enqueue([("t", b"k:2", b"small"), ("t", b"k:3", too_large)]))
    assert [key for _, _, key in fake.singles] == [b"k:1"] and fake.sent == []  # nothing of the refused batch
