"""The writer against the real server: rows the driver cannot write are refused one by one and the rest stored.

The sink inserts without clickhouse-driver's `types_check` (it costs ~15 µs of CPU per row): a value of the wrong
type or out of range must still fail the insert — not be written wrong — so bisection can find the row.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from streams.sinks.clickhouse.client import connect
from streams.sinks.clickhouse.rows import EVENT_COLUMNS, event_row
from streams.sinks.clickhouse.writer import ClickHouseWriter
from streams.sources.generator import generate
from streams.stages.enrich import pass_through


def test_clickhouse_writer_refuses_unwritable_rows_alone_and_stores_the_rest(pipeline):
    ch = pipeline.settings.clickhouse
    now = datetime.now(UTC)
    rows = [list(event_row(pass_through(p.event, now), partition=0, offset=i))
            for i, p in enumerate(generate(8, start=now, seed=3, rate_per_minute=60))]
    followers, text, created_at = (EVENT_COLUMNS.index(c) for c in ("author_followers", "text", "created_at"))
    rows[2][followers] = 2**70  # out of UInt64's range: with types_check it was silently written wrapped
    rows[5][text] = 123
    rows[6][created_at] = "2026-01-01 00:00:00"
    writer = ClickHouseWriter(lambda: connect(ch, database=ch.database))
    try:
        rejected = asyncio.run(writer.insert(f"{ch.database}.events", EVENT_COLUMNS, [tuple(r) for r in rows]))
    finally:
        writer.close()

    assert [r.index for r in rejected] == [2, 5, 6]
    assert "author_followers" in rejected[0].message
    stored = pipeline.clickhouse().execute(
        f"SELECT kafka_offset, created_at FROM {ch.database}.events ORDER BY kafka_offset")
    assert [offset for offset, _ in stored] == [0, 1, 3, 4, 7]
    # epoch seconds from event_row are stored as the same instants the aware datetimes name
    first = rows[0][created_at]
    assert stored[0][1] == datetime.fromtimestamp(first, UTC).replace(tzinfo=None)
