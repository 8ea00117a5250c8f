"""The earlier-copies check on the real ClickHouse 18.16, at the size of a replay's sink batch (10,000 posts):
posts stored before at a smaller offset of their partition are found, the first copies are not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from streams.sinks.clickhouse.earlier import EarlierCopies
from streams.sinks.clickhouse.rows import EVENT_COLUMNS, event_row
from tests.unit.test_spikes import enriched

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BATCH = 10_000


def test_earlier_copies_finds_the_later_copies_of_a_10000_post_batch(pipeline):
    db = pipeline.settings.clickhouse.database
    client = pipeline.clickhouse()
    events = [enriched(i, T0 + timedelta(seconds=i % 7200)) for i in range(BATCH)]
    # the first copies at offsets 0..9,999 of partition 0; a redelivery copied the first 300 at 20,000+
    client.execute(f"INSERT INTO {db}.events ({', '.join(f'`{c}`' for c in EVENT_COLUMNS)}) VALUES",
                   [event_row(e, partition=0, offset=i) for i, e in enumerate(events)], types_check=False)
    rows = [(e.event_id, 0, i, e.event.created_at) for i, e in enumerate(events)]  # the batch of first copies
    rows += [(e.event_id, 0, 20_000 + i, e.event.created_at) for i, e in enumerate(events[:300])]
    check = EarlierCopies(lambda: pipeline.clickhouse(), f"{db}.events")
    later = asyncio.run(check(rows))
    assert later == {(e.event_id, 20_000 + i) for i, e in enumerate(events[:300])}
