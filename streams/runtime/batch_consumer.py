"""A pipeline stage's consumer on plain aiokafka: batches from its own consumer group, committed after the stage's
output is safe; run inside the Faust worker (a `mode` service, so it starts and stops with it).

Why not Faust agents for `enrich` and `clickhouse_sink`: Faust's Stream delivers events one by one through
its conductor, channel queues, acks and sensors — measured at 160-200 µs of CPU per event just to consume and
ack (bench/bench_consume.py), against 3.5 µs for aiokafka's `getmany`. That alone is more than the whole
per-event budget of the pipeline (bench/RESULTS.md, issue 5). The contract is the same as a Faust agent with
`take(N, within=T)`:

- a batch is at most `size` records, or what arrived until its oldest record has been in Kafka `within` seconds
  (by the record's timestamp: time spent waiting while the previous batch was handled counts);
- the handler gets the whole batch and retries failures itself. It may return a `Durable` — an awaitable that
  completes once the batch's output is safe (e.g. the broker acknowledged what it produced): the next batch is
  then processed while that one settles, and its offsets are committed after it completed, in order. At most
  one batch is in flight, so the NLP thread does not sit idle through acks and commit round trips;
- a rebalance waits for the batch in hand and the one in flight (commits included) before giving partitions away;
  records fetched but not yet handled when it starts are dropped and fetched again from the committed offsets;
- stop (SIGTERM) finishes the batch in hand and commits, within `shutdown_seconds`; past that the batch is
  abandoned uncommitted, to be redelivered (at-least-once; ClickHouse deduplicates by event_id).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from mode import Service

from streams.settings import KafkaSettings

log = logging.getLogger(__name__)

Durable = Awaitable[None]
BatchHandler = Callable[[list[Any]], Awaitable[Durable | None]]


class BatchConsumer(Service):
    """One pipeline stage: its own consumer group on one topic, batches to `handle`, commit after."""

    def __init__(self, kafka: KafkaSettings, *, name: str, topic: str, group_id: str, size: int, within: float,
                 handle: BatchHandler, prepare: Callable[[], Awaitable[None]] | None = None,
                 shutdown_seconds: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name, self.topic, self.group_id = name, topic, group_id
        self._kafka = kafka
        self._size, self._within, self._handle, self._prepare = size, within, handle, prepare
        self._shutdown_seconds = shutdown_seconds
        # Held while a batch is handled and while one settles and commits — never while fetching: aiokafka's
        # getmany() waits for the new assignment during a rebalance, and the rebalance waits for this lock.
        self._lock = asyncio.Lock()
        self._generation = 0  # +1 per revocation: a batch taken across one is dropped (it gets redelivered)
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._committed: dict[TopicPartition, int] = {}
        self._in_flight: tuple[list[Any], Durable | None] | None = None  # handled, output not yet confirmed
        self._consumer: AIOKafkaConsumer | None = None

    async def on_start(self) -> None:
        if self._prepare is not None:  # e.g. load models before joining the group, so no partition waits on it
            await self._prepare()
        kafka = self._kafka
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka.bootstrap_servers, group_id=self.group_id,
            client_id=f"{self.group_id}-{os.getpid()}", enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=int(kafka.session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(min(3.0, kafka.session_timeout_seconds / 3) * 1000),
            max_poll_records=self._size, fetch_min_bytes=kafka.fetch_min_bytes,
            fetch_max_wait_ms=kafka.fetch_max_wait_ms,
        )
        self._consumer.subscribe([self.topic], listener=_WaitForBatch(self))
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"batch-consumer-{self.name}")

    async def on_stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=self._shutdown_seconds)
            except TimeoutError:
                log.warning("%s: batch not finished %.0fs after stop; left uncommitted for redelivery",
                            self.name, self._shutdown_seconds)
                self._task.cancel()
            except Exception:  # noqa: BLE001, S110 - already logged by _run
                pass
        if self._consumer is not None:
            await self._consumer.stop()  # leaves the group: the partitions move at once

    async def _run(self) -> None:
        try:
            while not self._stopping:
                records, generation = await self._take()
                async with self._lock:
                    if generation != self._generation:
                        records = []  # revoked since they were fetched: the new assignment re-fetches them
                    if not records:
                        await self._settle()  # idle: nothing to overlap with
                        continue
                    durable = await self._handle(records)
                    await self._settle()  # the previous batch first: commits stay in offset order
                    self._in_flight = (records, durable)
                    if durable is None:
                        await self._settle()
            async with self._lock:
                await self._settle()
        except asyncio.CancelledError:
            raise
        except Exception:
            # The handler retries everything but bugs; a bug must not leave a live worker that consumes nothing.
            log.exception("%s: stage crashed; stopping the worker", self.name)
            os.kill(os.getpid(), signal.SIGTERM)
            raise

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._consumer

    async def _take(self) -> tuple[list[Any], int]:
        """Up to `size` records, until the oldest has been in Kafka `within` s; and the generation they were
        fetched in."""
        loop = asyncio.get_running_loop()
        records: list[Any] = []
        generation = self._generation
        deadline: float | None = None
        while len(records) < self._size and not self._stopping:
            remaining = self._within if deadline is None else deadline - loop.time()
            # past the window, still take what is already fetched (timeout 0), up to `size`: a stage that is
            # behind keeps large batches
            fetched = await self.consumer.getmany(timeout_ms=max(0, int(remaining * 1000)),
                                                   max_records=self._size - len(records))
            if generation != self._generation:
                # A revocation ran while we waited: what came before is stale (each new assignment starts again
                # from the committed offsets); what this call returned belongs to the new assignment.
                records, generation = [], self._generation
            for batch in fetched.values():
                records.extend(batch)
            if not records:
                break  # idle: back to the loop, which settles the batch in flight instead of letting it wait
            if deadline is None:
                deadline = loop.time() + self._within - _waited(records)
            elif not fetched and remaining <= 0:
                break
        return records, generation

    async def release(self, revoked: Any) -> None:
        """Before a rebalance gives `revoked` away: the batch in hand is handled and committed first."""
        async with self._lock:
            await self._settle()
            self._generation += 1
            for tp in revoked:
                self._committed.pop(tp, None)
        log.info("%s: partitions revoked after the batch in hand was committed", self.name)

    async def _settle(self) -> None:
        """Wait until the batch in flight is safe, then commit its offsets."""
        if self._in_flight is None:
            return
        records, durable = self._in_flight
        if durable is not None:
            await durable
        self._in_flight = None
        await self._commit(records)

    async def _commit(self, records: Sequence[Any]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        assigned = self.consumer.assignment()
        offsets = {tp: o for tp, o in offsets.items() if tp in assigned}
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on (e.g. our session expired): the new owner redelivers; rows deduplicate.
            log.warning("%s: commit of %d partitions refused (%s); they will be redelivered", self.name,
                        len(offsets), exc)
            return
        self._committed.update(offsets)

    async def lags(self) -> dict[tuple[str, int], int]:
        """Per owned partition: end offset − committed offset (from the earliest offset if none)."""
        lags: dict[tuple[str, int], int] = {}
        if self._consumer is None:
            return lags
        assigned = sorted(self._consumer.assignment())
        unknown = [tp for tp in assigned if tp not in self._committed]
        earliest = await self._consumer.beginning_offsets(unknown) if unknown else {}
        ends = await self._consumer.end_offsets(assigned) if assigned else {}
        for tp in assigned:
            start = self._committed.get(tp, earliest.get(tp))
            if start is not None and tp in ends:
                lags[(tp.topic, tp.partition)] = max(0, ends[tp] - start)
        return lags


def _waited(records: Sequence[Any]) -> float:
    """How long the oldest record has been in Kafka (by its timestamp), within [0, ∞): the batch window counts
    from when a record was written, not from when this stage got round to it, so records that arrived while the
    previous batch was being handled do not wait a full window more. A producer clock ahead of ours gives 0."""
    stamps = [r.timestamp for r in records if (getattr(r, "timestamp", None) or -1) > 0]  # -1: none recorded
    return max(0.0, time.time() - min(stamps) / 1000) if stamps else 0.0


class _WaitForBatch(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, stage: BatchConsumer) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.stage.release(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("%s: assigned %s", self.stage.name, sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))
