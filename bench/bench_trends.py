"""Time every trend query on the bench database (bench/load_bulk.py): p50 / p99 over --runs runs each,
before (the per-minute-only SQL of 0002, kept here verbatim as `before_*`) and after (streams/trends/
queries.py: hourly rollups of 0005 + edge minutes), interleaved run by run so both see the same machine
load; each pair's rows are compared.

    .venv/bin/python -m bench.bench_trends --database socialpulse_bench --runs 20 [--drop]

Queries run through clickhouse-driver exactly as the CLI sends them; the reference time is the end of
the data (`--at latest`). Goal: rising terms, last hour vs 24 h baseline, p50 < 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

from streams.settings import ClickHouseSettings
from streams.sinks.clickhouse.client import check_identifier, connect
from streams.trends import queries as q
from streams.trends.output import resolve_at

BRANDS = ["spotify", "apple_music", "youtube_music", "deezer", "tidal", "amazon_music"]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


# --- before: the queries as of migration 0002 (per-minute rollups of event_id strings, events FINAL) ---

def before_rising(db: str, at, kind: str) -> q.TrendQuery:
    end = q._minute_floor(at)
    params = {"end": end, "start": end - 25 * 3600, "current_start": end - 3600, "window": 3600, "buckets": 24,
              "min_count": 5, "limit": 20}
    parts = []
    for k in (list(q.KINDS) if kind == "all" else [kind]):
        rollup = q.KINDS[k].rollup
        parts.append(
            f"SELECT '{k}' AS kind, term, intDiv(%(end)s - 1 - toUInt32(minute), %(window)s) AS k, "
            f"uniqExactMerge(posts) AS c FROM {db}.{rollup} "
            "WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s) "
            f"AND term IN (SELECT term FROM {db}.{rollup} "
            "WHERE minute >= toDateTime(%(current_start)s) AND minute < toDateTime(%(end)s) "
            "GROUP BY term HAVING uniqExactMerge(posts) >= %(min_count)s) GROUP BY term, k")
    sql = (
        "SELECT kind, term, current, round(mean, 2) AS baseline_mean, round(std, 2) AS baseline_std, "
        "round((current - mean) / greatest(greatest(std, sqrt(mean)), 1), 2) AS z FROM ("
        "SELECT kind, term, sumIf(c, k = 0) AS current, sumIf(c, k > 0) / %(buckets)s AS mean, "
        "sqrt(greatest(sumIf(c * c, k > 0) / %(buckets)s - pow(sumIf(c, k > 0) / %(buckets)s, 2), 0)) AS std "
        f"FROM ({' UNION ALL '.join(parts)}) GROUP BY kind, term) WHERE current >= %(min_count)s "
        "ORDER BY z DESC, current DESC, kind, term LIMIT %(limit)s")
    return q.TrendQuery("rising", sql, params)


def before_timeline(db: str, at, terms: list[str], kind: str, since: str) -> q.TrendQuery:
    start, end = q._range(at, since)
    sql = (
        f"SELECT {q._bucket()} AS bucket, term, uniqExactMerge(posts) AS total, "
        "uniqExactMergeIf(posts, sentiment_label = 'positive') AS positive, "
        "uniqExactMergeIf(posts, sentiment_label = 'neutral') AS neutral, "
        "uniqExactMergeIf(posts, sentiment_label = 'negative') AS negative, "
        "round((positive - negative) / total, 3) AS net_sentiment "
        f"FROM {db}.{q.KINDS[kind].rollup} "
        "WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s) AND term IN %(terms)s "
        "GROUP BY bucket, term ORDER BY bucket, term")
    return q.TrendQuery("timeline", sql, {"start": start, "end": end, "interval": 3600, "terms": tuple(terms)})


def before_share(db: str, at, brand_queries: list[str]) -> q.TrendQuery:
    start, end = q._range(at, "24h")
    where = "WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s) AND term IN %(brand_queries)s"
    sql = (
        "SELECT term, total, round(total / (SELECT sum(c) FROM (SELECT uniqExactMerge(posts) AS c "
        f"FROM {db}.topic_minute {where} GROUP BY term)), 4) AS share, positive, negative, "
        "round((positive - negative) / total, 3) AS net_sentiment FROM ("
        "SELECT term, uniqExactMerge(posts) AS total, "
        "uniqExactMergeIf(posts, sentiment_label = 'positive') AS positive, "
        "uniqExactMergeIf(posts, sentiment_label = 'negative') AS negative "
        f"FROM {db}.topic_minute {where} GROUP BY term) ORDER BY total DESC, term")
    return q.TrendQuery("share", sql, {"start": start, "end": end, "brand_queries": tuple(brand_queries)})


def before_top_posts(db: str, at, term: str, kind: str, since: str) -> q.TrendQuery:
    start, end = q._range(at, since)
    spec = q.KINDS[kind]
    sql = (
        "SELECT toString(created_at, 'UTC') AS created, network, author_handle, "
        "likes + reposts + replies + quotes AS engagement, sentiment_label, "
        "replaceRegexpAll(substringUTF8(text, 1, 100), '\\\\s+', ' ') AS text_start, url, event_id "
        f"FROM {db}.events FINAL "
        "WHERE created_at >= toDateTime(%(start)s) AND created_at < toDateTime(%(end)s) "
        f"AND event_id IN (SELECT event_id FROM {db}.{spec.rows} WHERE {spec.column} = %(term)s "
        "AND created_at >= toDateTime(%(start)s) AND created_at < toDateTime(%(end)s)) "
        "ORDER BY engagement DESC, created_at DESC, event_id LIMIT %(limit)s")
    return q.TrendQuery("top-posts", sql, {"start": start, "end": end, "term": term, "limit": 10})


def before_volume(db: str, at, by: str, interval: str | None) -> q.TrendQuery:
    start, end = q._range(at, "24h")
    column = q.VOLUME_DIMENSIONS[by]
    where = "WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)"
    if interval is None:
        sql = (f"SELECT {column} AS {by}, uniqExactMerge(posts) AS total, uniqExactMerge(authors) AS authors "
               f"FROM {db}.volume_minute {where} GROUP BY {by} ORDER BY total DESC, {by}")
        return q.TrendQuery("volume", sql, {"start": start, "end": end})
    sql = (f"SELECT {q._bucket()} AS bucket, {column} AS {by}, uniqExactMerge(posts) AS total, "
           f"uniqExactMerge(authors) AS authors FROM {db}.volume_minute {where} "
           f"GROUP BY bucket, {by} ORDER BY bucket, total DESC, {by}")
    return q.TrendQuery("volume", sql, {"start": start, "end": end, "interval": 3600})


def cases(db: str, at) -> dict[str, tuple[q.TrendQuery, q.TrendQuery]]:
    """name -> (before, after). Rising `after` is what the CLI runs: the precomputed baseline (0006)."""
    return {
        "rising all kinds 1h vs 24h": (before_rising(db, at, "all"),
                                       q.rising(db, at=at, kind="all", precomputed=True)),
        "rising entity 1h vs 24h": (before_rising(db, at, "entity"),
                                    q.rising(db, at=at, kind="entity", precomputed=True)),
        "rising hashtag 1h vs 24h": (before_rising(db, at, "hashtag"),
                                     q.rising(db, at=at, kind="hashtag", precomputed=True)),
        "rising brand query 1h vs 24h": (before_rising(db, at, "brand_query"),
                                         q.rising(db, at=at, kind="brand_query", precomputed=True)),
        "rising all kinds, hourly rollups only": (before_rising(db, at, "all"), q.rising(db, at=at, kind="all")),
        "timeline 2 brand queries 24h/1h": (before_timeline(db, at, ["spotify", "deezer"], "brand_query", "24h"),
                                            q.timeline(db, at=at, terms=["spotify", "deezer"], kind="brand_query")),
        "timeline entity 7d/1h": (before_timeline(db, at, ["spotify"], "entity", "7d"),
                                  q.timeline(db, at=at, terms=["spotify"], kind="entity", since="7d")),
        "share of voice 24h": (before_share(db, at, BRANDS), q.share_of_voice(db, at=at, brand_queries=BRANDS)),
        "top posts brand query 24h": (before_top_posts(db, at, "spotify", "brand_query", "24h"),
                                      q.top_posts(db, at=at, term="spotify", kind="brand_query")),
        "top posts hashtag 1h": (before_top_posts(db, at, "spotifydown", "hashtag", "1h"),
                                 q.top_posts(db, at=at, term="spotifydown", kind="hashtag", since="1h")),
        "volume by network 24h": (before_volume(db, at, "network", None), q.volume(db, at=at, by="network")),
        "volume by language 24h/1h": (before_volume(db, at, "language", "1h"),
                                      q.volume(db, at=at, by="language", interval="1h")),
    }


def timed(client, query: q.TrendQuery) -> tuple[float, list]:
    t0 = time.perf_counter()
    rows = client.execute(query.sql, query.params)
    return (time.perf_counter() - t0) * 1000, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="socialpulse_bench")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--at", default="latest", help="reference time (default: the end of the data)")
    parser.add_argument("--only", default="", help="run the cases whose name contains this text")
    parser.add_argument("--after-only", action="store_true", help="skip the `before` queries")
    parser.add_argument("--drop", action="store_true", help="drop the bench database afterwards")
    args = parser.parse_args()
    client = connect(ClickHouseSettings())
    db = check_identifier(args.database)
    at = resolve_at(client, db, args.at)
    (events, distinct), = client.execute(f"SELECT count(), uniqExact(event_id) FROM {db}.events")
    print(f"{db}: {events:,} rows, {distinct:,} distinct events, reference time {at.isoformat()}")
    key = q.plan_rising(at=at).baseline_key
    t0 = time.perf_counter()
    for statement in q.refresh_baselines(db, key):  # what `rising` does once per hour (or a periodic job)
        client.execute(statement.sql, statement.params)
    print(f"refresh of the rising baselines ending {key[0]} (all kinds): {time.perf_counter() - t0:.2f} s")
    print("| query | before p50 ms | before p99 ms | after p50 ms | after p99 ms | p50 ratio | rows | same rows "
          "| first row |\n|---|---:|---:|---:|---:|---:|---:|---|---|")
    for name, (before, after) in cases(db, at).items():
        if args.only not in name:
            continue
        _, old_rows = (0.0, []) if args.after_only else timed(client, before)  # warm-up
        _, rows = timed(client, after)
        old_ms, new_ms = [], []
        for _ in range(args.runs):
            if not args.after_only:
                old_ms.append(timed(client, before)[0])
            new_ms.append(timed(client, after)[0])
        first = " ".join(str(c) for c in rows[0][:3]) if rows else ""
        old_cells = ("-", "-", "-") if args.after_only else (
            f"{statistics.median(old_ms):.0f}", f"{percentile(old_ms, 99):.0f}",
            f"{statistics.median(old_ms) / statistics.median(new_ms):.1f}x")
        same = "-" if args.after_only else ("yes" if rows == old_rows else "no")
        print(f"| {name} | {old_cells[0]} | {old_cells[1]} | {statistics.median(new_ms):.0f} "
              f"| {percentile(new_ms, 99):.0f} | {old_cells[2]} | {len(rows)} | {same} | {first} |", flush=True)
    if args.drop:
        client.execute(f"DROP DATABASE IF EXISTS {db}")
        print(f"dropped {db}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
