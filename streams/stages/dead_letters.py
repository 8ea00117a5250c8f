"""Stage `deadletter_sink`: social.deadletter.v1 → rows in `<db>.dead_letters`.

The topic stays the source of truth: a dead letter that cannot be read or stored is logged and counted
(`socialpulse_dead_letters_total{stage="deadletter_sink"}`), never dead-lettered again. ClickHouse faults block
and retry like every stage's (streams/runtime/failure_policy.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from schemas import ErrorCode
from streams import codec
from streams.metrics import Metrics
from streams.runtime.failure_policy import RetryPolicy, describe, error_code, isolating
from streams.runtime.records import KafkaRecord, batch_token
from streams.sinks.clickhouse.rows import DEAD_LETTER_COLUMNS, dead_letter_row
from streams.sinks.clickhouse.writer import RowWriter

log = logging.getLogger(__name__)

STAGE = "deadletter_sink"


async def sink_dead_letter_records(
    records: Sequence[KafkaRecord], *, writer: RowWriter, table: str, metrics: Metrics,
) -> None:
    """Dead letters into ClickHouse; unreadable or refused ones are logged."""
    rows = []
    for record in records:
        try:
            rows.append(dead_letter_row(codec.decode_dead_letter(record.value)))
        except Exception:  # noqa: BLE001 - not ours; it stays in the topic
            log.error("unreadable dead letter on %s[%s]@%s", record.topic, record.partition, record.offset)
            metrics.dead_letter(ErrorCode.INVALID_VALUE.value, STAGE)
    rejected = await writer.insert(table, DEAD_LETTER_COLUMNS, rows, dedup_token=batch_token(records))
    for bad in rejected:
        log.error("dead letter %s refused by ClickHouse: %s", rows[bad.index][0], bad.message)
        metrics.dead_letter(ErrorCode.ROW_REJECTED.value, STAGE)
    metrics.events_in.labels(agent=STAGE).inc(len(records))
    metrics.rows_inserted.labels(table="dead_letters").inc(len(rows) - len(rejected))


@dataclass
class DeadLetterSinkStage:
    writer: RowWriter
    table: str
    policy: RetryPolicy
    metrics: Metrics

    async def handle(self, records: list[KafkaRecord]) -> None:
        await isolating(records, self._store, isolate=self._give_up, policy=self.policy, what=STAGE,
                        on_retry=self.metrics.retry_counter(STAGE))

    async def _store(self, part: Sequence[KafkaRecord]) -> None:
        await sink_dead_letter_records(part, writer=self.writer, table=self.table, metrics=self.metrics)

    async def _give_up(self, record: KafkaRecord, exc: BaseException) -> None:
        log.error("dead letter %s[%s]@%s not stored: %s", record.topic, record.partition, record.offset,
                  describe(exc))
        self.metrics.dead_letter(error_code(exc).value, STAGE)
