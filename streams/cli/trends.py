"""`socialpulse trends rising|timeline|share|top-posts|volume`: trend queries over the ClickHouse rollups."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from streams.settings import Settings

AT_HELP = ("reference time: 'latest' (default: end of the newest minute with data, so replayed samples with "
           "fixed past timestamps work; equals about now on a live pipeline), 'now', or ISO 8601 like "
           "2026-11-25T18:00:00Z")

# The kinds of streams/trends/queries.py:KINDS (a test holds them equal; importing it here would load the
# ClickHouse driver for every command). "topic", the brand queries' earlier name, is still accepted.
KIND_NAMES = ("entity", "hashtag", "mention", "brand_query")


def _kind(value: str) -> str:
    return "brand_query" if value == "topic" else value


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("trends", help="Trend queries: rising terms, sentiment timeline, share of voice, "
                                             "top posts, volume")
    sub = p.add_subparsers(dest="trend", metavar="QUERY", required=True)

    def common(q: argparse.ArgumentParser, since: str) -> None:
        q.add_argument("--at", default="latest", help=AT_HELP)
        q.add_argument("--since", default=since, help=f"length of the time range ending at --at (default {since})")
        q.add_argument("--format", choices=["table", "json"], default="table")
        q.add_argument("--database", help="ClickHouse database (default: settings)")
        q.add_argument("--show-sql", action="store_true", help="print the SQL and parameters to stderr")
        q.set_defaults(func=cmd_trends)

    q = sub.add_parser("rising", help="terms spiking now: z-score of the last window against a trailing baseline")
    common(q, "1h")
    q.add_argument("--baseline", default="24h", help="trailing baseline, split into --since sized buckets")
    q.add_argument("--kind", default="all", type=_kind, choices=["all", *KIND_NAMES])
    q.add_argument("--min-count", type=int, default=5, help="minimum posts in the current window")
    q.add_argument("--limit", type=int, default=20)

    q = sub.add_parser("refresh-baselines", help="recompute the precomputed rising baselines of the last hours "
                                                 "(run periodically: picks up late events)")
    q.add_argument("--at", default="latest", help=AT_HELP)
    q.add_argument("--hours", type=int, default=2, help="baselines ending in the last N hours (default 2)")
    q.add_argument("--since", default="1h", help="rising window the baselines are for (default 1h)")
    q.add_argument("--baseline", default="24h", help="rising baseline length (default 24h)")
    q.add_argument("--database", help="ClickHouse database (default: settings)")
    q.set_defaults(func=cmd_refresh_baselines)

    q = sub.add_parser("timeline", help="posts and sentiment per interval for terms")
    q.add_argument("terms", nargs="+", metavar="TERM")
    common(q, "24h")
    q.add_argument("--kind", default="brand_query", type=_kind, choices=KIND_NAMES)
    q.add_argument("--interval", default="1h")

    q = sub.add_parser("share", help="share of voice among brand queries (config/brand_queries.yaml)")
    q.add_argument("brand_queries", nargs="*", metavar="BRAND_QUERY",
                   help="brand queries to compare (default: the brand and competitor queries of the file)")
    common(q, "24h")

    q = sub.add_parser("top-posts", help="most engaging posts for a term")
    q.add_argument("term")
    common(q, "24h")
    q.add_argument("--kind", default="brand_query", type=_kind, choices=KIND_NAMES)
    q.add_argument("--limit", type=int, default=10)

    q = sub.add_parser("volume", help="posts and authors by network, language or sentiment")
    common(q, "24h")
    q.add_argument("--by", default="network", choices=["network", "language", "sentiment"])
    q.add_argument("--interval", default=None, help="per interval (e.g. 1h); default: totals over --since")


def tracked_brands(settings: Settings) -> tuple[str, ...]:
    from processors.brand_queries import load_brand_queries

    return load_brand_queries(settings.nlp.brand_queries_path).names("brand", "competitor")


def cmd_trends(args: argparse.Namespace) -> int:
    from clickhouse_driver import errors as ch_errors

    from streams.sinks.clickhouse.client import connect
    from streams.trends import baselines
    from streams.trends import queries as q
    from streams.trends.output import render_json, render_table, resolve_at, run

    settings = Settings()
    database = args.database or settings.clickhouse.database
    try:
        client = connect(settings.clickhouse)
        at = resolve_at(client, database, args.at)
        if args.trend == "rising":
            query = baselines.rising_for(client, database, at=at, window=args.since, baseline=args.baseline,
                                         kind=args.kind, min_count=args.min_count, limit=args.limit)
            title = f"Rising terms ({args.kind}): last {args.since} vs previous {args.baseline}"
        elif args.trend == "timeline":
            query = q.timeline(database, at=at, terms=args.terms, kind=args.kind, since=args.since,
                               interval=args.interval)
            title = f"Sentiment timeline ({args.kind}) per {args.interval}, last {args.since}"
        elif args.trend == "share":
            brands = args.brand_queries or tracked_brands(settings)
            query = q.share_of_voice(database, at=at, brand_queries=brands, since=args.since)
            title = f"Share of voice, last {args.since}"
        elif args.trend == "top-posts":
            query = q.top_posts(database, at=at, term=args.term, kind=args.kind, since=args.since,
                                limit=args.limit)
            title = f"Top posts for {args.kind} {args.term!r}, last {args.since}"
        else:
            query = q.volume(database, at=at, by=args.by, since=args.since, interval=args.interval)
            title = f"Volume by {args.by}, last {args.since}" + (f" per {args.interval}" if args.interval else "")
        if args.show_sql:
            print(f"-- {query.params}\n{q.render_sql(query)}", file=sys.stderr)
        rows = run(client, query)
    except q.TrendQueryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ch_errors.Error as exc:
        first = str(exc).strip().splitlines()
        print(f"error: ClickHouse ({database}): {' '.join(first[:2])}", file=sys.stderr)
        return 1
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if args.format == "json":
        print(render_json(query, rows, at=at, extra={"database": database, "since": args.since}))
    else:
        print(render_table(query, rows, title=f"{title} (until {stamp}, {database})"))
    return 0


def cmd_refresh_baselines(args: argparse.Namespace) -> int:
    from clickhouse_driver import errors as ch_errors

    from streams.sinks.clickhouse.client import connect
    from streams.trends import baselines
    from streams.trends import queries as q
    from streams.trends.output import resolve_at

    settings = Settings()
    database = args.database or settings.clickhouse.database
    try:
        client = connect(settings.clickhouse)
        at = resolve_at(client, database, args.at)
        keys = baselines.refresh(client, database, at=at, hours=args.hours, window=args.since,
                                 baseline=args.baseline)
    except q.TrendQueryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ch_errors.Error as exc:
        first = str(exc).strip().splitlines()
        print(f"error: ClickHouse ({database}): {' '.join(first[:2])}", file=sys.stderr)
        return 1
    for end, window, buckets in keys:
        stamp = datetime.fromtimestamp(end, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(f"rising baseline ending {stamp}: {buckets} x {window // 60} min buckets, all kinds")
    return 0
