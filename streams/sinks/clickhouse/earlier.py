"""Which stored posts were stored before, at an earlier offset of the same partition: copies a redelivery of the
enrich stage wrote to social.enriched.v1 a second time. The events table collapses them; the spike detector's
minute counts must leave them out too (streams/stages/counts.py), and the first copy is the one that counts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

from clickhouse_driver import Client

from streams.sinks.clickhouse.rows import utc_naive

IDS_PER_QUERY = 1000  # event ids of ~60-100 bytes: ~100 KiB of query text


class EarlierCopies:
    """One blocking clickhouse-driver connection, used from a worker thread, one query per stored batch.

    The query reads the hours the batch's posts were created in (the table's ORDER BY starts with
    `toStartOfHour(created_at)`), so its cost follows the batch, not the table. Faults are raised: the caller
    retries them under the failure policy."""

    def __init__(self, client_factory: Callable[[], Client], table: str) -> None:
        self._client_factory, self._table = client_factory, table
        self._client: Client | None = None

    async def __call__(self, rows: Sequence[tuple[str, int, int, datetime]]) -> set[tuple[str, int]]:
        if not rows:
            return set()
        return await asyncio.to_thread(self._query, rows)

    def _query(self, rows: Sequence[tuple[str, int, int, datetime]]) -> set[tuple[str, int]]:
        hours = sorted({utc_naive(created).replace(minute=0, second=0, microsecond=0) for _, _, _, created in rows})
        ids = sorted({event_id for event_id, _, _, _ in rows})
        if self._client is None:
            self._client = self._client_factory()
        found: list[tuple[str, int, int]] = []
        try:
            # The ids are inlined in the query text: a sink batch of 10,000 would pass the server's max_query_size
            # (256 KiB by default) and be refused every time.
            for i in range(0, len(ids), IDS_PER_QUERY):
                found += self._client.execute(
                    f"SELECT event_id, kafka_partition, min(kafka_offset) FROM {self._table} "  # noqa: S608 - ours
                    "WHERE toStartOfHour(created_at) IN %(hours)s AND event_id IN %(ids)s "
                    "GROUP BY event_id, kafka_partition",
                    {"hours": tuple(hours), "ids": tuple(ids[i:i + IDS_PER_QUERY])})
        except Exception:
            self._client.disconnect()
            self._client = None
            raise
        first = {(event_id, partition): offset for event_id, partition, offset in found}
        return {(event_id, offset) for event_id, partition, offset, _ in rows
                if first.get((event_id, partition), offset) < offset}
