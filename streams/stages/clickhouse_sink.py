"""Stage `clickhouse_sink`: social.enriched.v1 → rows in `<db>.events`, then its partial minute counts.

    records ──codec.read_enriched──► EnrichedEvent ──event_row──► one INSERT per batch (dedup token from the batch)
       └─ unreadable ──► DeadLetter            rows ClickHouse refuses ──► DeadLetter `row_rejected`
    then the dead letters are produced, and the stored events are handed to the counts stage
    (streams/stages/counts.py); the batch is committed after all of it.

The batch runs under the failure policy (streams/runtime/failure_policy.py): ClickHouse or broker faults block
and retry (the writer retries in place); a batch that keeps raising for its records (row building, say) is split
until the offending record is a dead letter of its own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas import EnrichedEvent, ErrorCode
from streams import codec
from streams.metrics import Metrics
from streams.runtime.failure_policy import OnRetry, RetryPolicy, isolating
from streams.runtime.producer import BatchProducer
from streams.runtime.records import (
    KafkaRecord,
    Outgoing,
    batch_token,
    dead_letter_for,
    dead_letter_message,
    send_isolated_dead_letter,
)
from streams.sinks.clickhouse.rows import EVENT_COLUMNS, event_row
from streams.sinks.clickhouse.writer import RowWriter

STAGE = "clickhouse_sink"
DEAD_LETTER_STAGE = "sink"  # the DeadLetter contract's name for this stage

Stored = list[tuple[int, int, EnrichedEvent]]  # (partition, offset, event) of every row written


@dataclass(frozen=True)
class SinkResult:
    dead_letters: list[Outgoing]  # unreadable records and rows ClickHouse refused
    stored: Stored


async def sink_records(
    records: Sequence[KafkaRecord], *, writer: RowWriter, table: str, now: datetime, metrics: Metrics,
) -> SinkResult:
    """Insert enriched events as rows; dead letters for unreadable records and rejected rows.

    Raises when the writer does (it retries infrastructure faults itself) or when a row cannot be built."""
    metrics.events_in.labels(agent=STAGE).inc(len(records))
    rows, row_records, events, out = _event_rows(records, now, metrics)
    started = time.perf_counter()
    rejected = await writer.insert(table, EVENT_COLUMNS, rows, dedup_token=batch_token(row_records))
    metrics.insert_seconds.labels(table="events").observe(time.perf_counter() - started)
    metrics.batch_size.labels(agent=STAGE).observe(len(rows))
    metrics.rows_inserted.labels(table="events").inc(len(rows) - len(rejected))
    for bad in rejected:
        letter = dead_letter_for(row_records[bad.index], code=ErrorCode.ROW_REJECTED, message=bad.message,
                                 stage=DEAD_LETTER_STAGE, event_id=rows[bad.index][0], now=now)
        metrics.dead_letter(letter.error_code.value, letter.stage)
        out.append(dead_letter_message(letter))
    refused = {bad.index for bad in rejected}
    stored = [(record.partition, record.offset, event)
              for i, (record, event) in enumerate(zip(row_records, events, strict=True)) if i not in refused]
    return SinkResult(out, stored)


def _event_rows(records: Sequence[KafkaRecord], now: datetime, metrics: Metrics
                ) -> tuple[list[tuple[Any, ...]], list[KafkaRecord], list[EnrichedEvent], list[Outgoing]]:
    rows: list[tuple[Any, ...]] = []
    row_records: list[KafkaRecord] = []
    events: list[EnrichedEvent] = []
    out: list[Outgoing] = []
    for record in records:
        try:
            enriched = codec.read_enriched(record.value)
        except Exception as exc:  # noqa: BLE001 - poison record, dead-lettered
            letter = dead_letter_for(record, code=ErrorCode.INVALID_VALUE,
                                     message=f"unreadable enriched event: {exc}", stage=DEAD_LETTER_STAGE,
                                     event_id=None, now=now)
            metrics.dead_letter(letter.error_code.value, letter.stage)
            out.append(dead_letter_message(letter))
            continue
        rows.append(event_row(enriched, partition=record.partition, offset=record.offset))
        row_records.append(record)
        events.append(enriched)
    return rows, row_records, events, out


@dataclass
class ClickHouseSinkStage:
    writer: RowWriter
    table: str
    producer: BatchProducer
    deadletter_topic: str
    policy: RetryPolicy
    metrics: Metrics
    clock: Callable[[], datetime]
    # the counts stage, once per batch after it is stored (not inside the retries), with the batch's records
    after_stored: Callable[[Sequence[KafkaRecord], Stored], Awaitable[None]] | None = None

    async def handle(self, records: list[KafkaRecord]) -> None:
        stored: Stored = []

        async def store(part: Sequence[KafkaRecord]) -> None:
            result = await sink_records(part, writer=self.writer, table=self.table, now=self.clock(),
                                        metrics=self.metrics)
            await self._send(result.dead_letters)
            stored.extend(result.stored)  # only once the part is wholly done: a retried part is not counted twice

        await isolating(records, store, isolate=self._dead_letter, policy=self.policy, what=STAGE,
                        on_retry=self._on_retry)
        if self.after_stored is not None:
            await self.after_stored(records, stored)

    async def _send(self, messages: Sequence[Outgoing]) -> None:
        await self.producer.send_all([(self.deadletter_topic, m.key, m.value) for m in messages])

    async def _dead_letter(self, record: KafkaRecord, exc: BaseException) -> None:
        await send_isolated_dead_letter(record, exc, stage=DEAD_LETTER_STAGE, topic=self.deadletter_topic,
                                        send=self.producer.send_all, policy=self.policy, on_retry=self._on_retry,
                                        metrics=self.metrics, now=self.clock())

    def __post_init__(self) -> None:
        self._on_retry: OnRetry = self.metrics.retry_counter(STAGE)
