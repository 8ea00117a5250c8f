"""`socialpulse retention --days N`: drop monthly partitions older than N days where TTL is missing."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from streams.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from streams.trends.retention import TREND_TABLES

    p = subparsers.add_parser(
        "retention", help="Drop monthly partitions older than --days (for servers without TTL, e.g. 18.16)",
        description="Drops a partition only when its whole month is older than the cutoff. Default tables: "
                    "the trend rows and rollups; raw events only when named with --tables.")
    p.add_argument("--days", type=int, required=True)
    p.add_argument("--tables", default=",".join(TREND_TABLES), help="comma-separated table names")
    p.add_argument("--database", help="ClickHouse database (default: settings)")
    p.add_argument("--dry-run", action="store_true", help="only list what would be dropped")
    p.set_defaults(func=cmd_retention)


def cmd_retention(args: argparse.Namespace) -> int:
    from streams.sinks.clickhouse.client import connect
    from streams.trends.retention import apply, plan

    settings = Settings()
    database = args.database or settings.clickhouse.database
    client = connect(settings.clickhouse)
    tables = tuple(t.strip() for t in args.tables.split(",") if t.strip())
    try:
        drops = plan(client, database, days=args.days, now=datetime.now(UTC), tables=tables)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    for d in drops:
        print(f"{'would drop' if args.dry_run else 'drop'} {database}.{d.table} partition {d.partition} "
              f"({d.rows} rows)")
    if not args.dry_run:
        apply(client, database, drops)
    if not drops:
        print(f"{database}: nothing older than {args.days} days to drop")
    return 0
