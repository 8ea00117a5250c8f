"""Retention by dropping whole monthly partitions, for servers without TTL (ClickHouse < 19.6, such as the
local 18.16). Tables partitioned by toYYYYMM(...) have partition ids 'YYYYMM'; a partition is dropped
when its whole month ends at or before the cutoff (now - days), so nothing newer than the cutoff is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from clickhouse_driver import Client

from streams.sinks.clickhouse.client import check_identifier

TREND_TABLES = ("event_entities", "event_hashtags", "event_mentions", "event_topics", "volume_minute",
                "entity_minute", "hashtag_minute", "mention_minute", "topic_minute", "volume_hour",
                "entity_hour", "hashtag_hour", "mention_hour", "topic_hour", "rising_baselines")
_MONTH = re.compile(r"^(\d{4})(\d{2})$")


@dataclass(frozen=True)
class Drop:
    table: str
    partition: str  # 'YYYYMM'
    rows: int


def month_end(partition: str) -> datetime | None:
    match = _MONTH.match(partition)
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return None
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def plan(client: Client, database: str, *, days: int, now: datetime,
         tables: tuple[str, ...] = TREND_TABLES) -> list[Drop]:
    if days < 1:
        raise ValueError(f"--days must be at least 1 (got {days})")
    db = check_identifier(database)
    names = tuple(check_identifier(t) for t in tables)
    cutoff = now - timedelta(days=days)
    rows = client.execute(
        "SELECT table, partition_id, sum(rows) FROM system.parts "
        "WHERE database = %(db)s AND active AND table IN %(tables)s GROUP BY table, partition_id "
        "ORDER BY table, partition_id", {"db": db, "tables": names})
    drops = []
    for table, partition, count in rows:
        end = month_end(partition)
        if end is not None and end <= cutoff:
            drops.append(Drop(table, partition, int(count)))
    return drops


def apply(client: Client, database: str, drops: list[Drop]) -> None:
    db = check_identifier(database)
    for drop in drops:
        # The partition id was matched against \d{6} above: a number, safe to put in the statement.
        assert _MONTH.match(drop.partition)
        client.execute(f"ALTER TABLE {db}.{check_identifier(drop.table)} DROP PARTITION {int(drop.partition)}")
