"""Time every trend query on the bench database (bench/load_bulk.py): p50 / p99 over --runs runs each.

    .venv/bin/python -m bench.bench_trends --database socialpulse_bench --runs 30 [--drop]

Queries run through clickhouse-driver exactly as the CLI sends them; the reference time is the end of
the data (`--at latest`). Goal: rising terms, last hour vs 24 h baseline, p50 < 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

from streams.clickhouse.client import connect
from streams.settings import ClickHouseSettings
from streams.trends import queries as q
from streams.trends.output import resolve_at

BRANDS = ["spotify", "apple_music", "youtube_music", "deezer", "tidal", "amazon_music"]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="socialpulse_bench")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--drop", action="store_true", help="drop the bench database afterwards")
    args = parser.parse_args()
    client = connect(ClickHouseSettings())
    db = args.database
    at = resolve_at(client, db, "latest")
    (events, distinct), = client.execute(f"SELECT count(), uniqExact(event_id) FROM {db}.events")
    print(f"{db}: {events:,} rows, {distinct:,} distinct events, reference time {at.isoformat()}")
    cases = {
        "rising all kinds 1h vs 24h": q.rising(db, at=at, kind="all"),
        "rising entity 1h vs 24h": q.rising(db, at=at, kind="entity"),
        "rising hashtag 1h vs 24h": q.rising(db, at=at, kind="hashtag"),
        "rising topic 1h vs 24h": q.rising(db, at=at, kind="topic"),
        "timeline 2 topics 24h/1h": q.timeline(db, at=at, terms=["spotify", "deezer"], kind="topic"),
        "timeline entity 7d/1h": q.timeline(db, at=at, terms=["spotify"], kind="entity", since="7d"),
        "share of voice 24h": q.share_of_voice(db, at=at, topics=BRANDS),
        "top posts topic 24h": q.top_posts(db, at=at, term="spotify", kind="topic"),
        "top posts hashtag 1h": q.top_posts(db, at=at, term="spotifydown", kind="hashtag", since="1h"),
        "volume by network 24h": q.volume(db, at=at, by="network"),
        "volume by language 24h/1h": q.volume(db, at=at, by="language", interval="1h"),
    }
    print("| query | p50 ms | p99 ms | rows | first row |\n|---|---:|---:|---:|---|")
    for name, query in cases.items():
        client.execute(query.sql, query.params)  # warm-up
        timings = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            rows = client.execute(query.sql, query.params)
            timings.append((time.perf_counter() - t0) * 1000)
        first = " ".join(str(c) for c in rows[0][:3]) if rows else ""
        print(f"| {name} | {statistics.median(timings):.0f} | {percentile(timings, 99):.0f} | {len(rows)} "
              f"| {first} |", flush=True)
    if args.drop:
        client.execute(f"DROP DATABASE IF EXISTS {q.check_identifier(db)}")
        print(f"dropped {db}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
