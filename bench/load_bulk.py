"""Bulk-load generated enriched events into a dedicated bench database, fast, inside ClickHouse: the
statements and the data's distribution are in streams/trends/synthetic.py (the trend tests load the same
data, smaller). The data ends at `--end` (default: the current UTC hour, so TTLs on current ClickHouse keep
the rows; pass --end for an exactly repeatable data set).

    .venv/bin/python -m bench.load_bulk --rows 10000000            # ~10 M rows into socialpulse_bench
    .venv/bin/python -m bench.load_bulk --drop                      # drop the bench database
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from streams.settings import ClickHouseSettings
from streams.sinks.clickhouse.client import check_identifier, connect
from streams.sinks.clickhouse.migrate import migrate
from streams.trends.synthetic import insert_statements


def load(client, database: str, *, rows: int, days: int, end: datetime, chunk: int, duplicates: float) -> None:
    db = check_identifier(database)
    migrate(client, db)
    started = time.monotonic()
    statements = insert_statements(db, rows=rows, days=days, end=end, chunk=chunk, duplicates=duplicates)
    for n, sql in enumerate(statements, 1):
        t0 = time.monotonic()
        client.execute(sql)
        print(f"  insert {n}/{len(statements)}  {time.monotonic() - t0:5.1f}s", flush=True)
    print(f"loaded in {time.monotonic() - started:.1f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="socialpulse_bench")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--end", default=None, help="end of the data, UTC ISO time (default: this hour)")
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows per INSERT")
    parser.add_argument("--duplicates", type=float, default=1.0, help="percent of the last 2 days inserted twice")
    parser.add_argument("--drop", action="store_true", help="drop the bench database and exit")
    args = parser.parse_args()
    client = connect(ClickHouseSettings(), database=None)
    db = check_identifier(args.database)
    if args.drop:
        client.execute(f"DROP DATABASE IF EXISTS {db}")
        print(f"dropped {db}")
        return 0
    if not db.startswith("socialpulse_bench") and not db.startswith("sp_bench"):
        parser.error("the bench database name must start with socialpulse_bench or sp_bench")
    client.execute(f"DROP DATABASE IF EXISTS {db}")
    end = (datetime.fromisoformat(args.end.replace("Z", "+00:00")) if args.end
           else datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
    print(f"loading {args.rows:,} events over {args.days} days ending {end.isoformat()} into {db}")
    load(client, db, rows=args.rows, days=args.days, end=end, chunk=args.chunk, duplicates=args.duplicates)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
