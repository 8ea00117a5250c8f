"""`socialpulse deadletters` (what failed, by code) and `socialpulse redrive` (re-submit after a fix)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from schemas import ErrorCode
from streams.settings import Settings

CODES = ", ".join(code.value for code in ErrorCode)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "deadletters", help="List recent dead letters by error code",
        description=f"Counts per error code, then the most recent dead letters. Codes: {CODES}.")
    p.add_argument("--code", action="append", help="only this error code (repeatable)")
    p.add_argument("--since", type=float, default=None, metavar="HOURS", help="only the last HOURS hours")
    p.add_argument("--limit", type=int, default=20, help="recent dead letters to show (default 20)")
    p.set_defaults(func=cmd_deadletters)

    p = subparsers.add_parser(
        "redrive", help="Re-submit dead letters' original bytes to the topics they failed on (after a fix)",
        description="Produces each selected dead letter's original bytes and key again to the topic it failed on "
                    "(a large original, of which the dead letter kept a prefix, is read back from that topic). "
                    "Events are deduplicated by event_id downstream, so redriving twice is harmless. "
                    "Select by --code and/or --id; --dry-run shows what would be sent.")
    p.add_argument("--code", action="append", help="error code to redrive (repeatable)")
    p.add_argument("--id", action="append", dest="ids", help="dead_letter_id to redrive (repeatable)")
    p.add_argument("--limit", type=int, default=10_000)
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_redrive)


def _since(hours: float | None) -> datetime | None:
    return datetime.now(UTC) - timedelta(hours=hours) if hours else None


def cmd_deadletters(args: argparse.Namespace) -> int:
    from streams import deadletters
    from streams.sinks.clickhouse.client import connect

    settings = Settings()
    client, db = connect(settings.clickhouse), settings.clickhouse.database
    try:
        summary = deadletters.summary_by_code(client, db, since=_since(args.since))
        recent = deadletters.fetch(client, db, codes=args.code, since=_since(args.since), limit=args.limit)
    except ValueError as exc:
        print(f"error: {exc}. Known codes: {CODES}", file=sys.stderr)
        return 2
    print(f"{'code':<24} {'stage':<9} {'count':>7}  last failed (UTC)")
    for code, stage, count, last in summary:
        print(f"{code:<24} {stage:<9} {count:>7}  {last}")
    if recent:
        print(f"\nmost recent {len(recent)}:")
    for letter in recent:
        preview = letter.original[:80].decode("utf-8", "backslashreplace").replace("\n", " ")
        print(f"{letter.failed_at}  {letter.dead_letter_id}  {letter.error_code}: {letter.error_message[:100]}"
              f"\n    {preview!r}")
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    from streams import deadletters
    from streams.sinks.clickhouse.client import connect
    from streams.sources.replay import make_producer

    if not args.code and not args.ids:
        print("error: choose what to redrive with --code and/or --id", file=sys.stderr)
        return 2
    settings = Settings()
    try:
        letters = deadletters.fetch(connect(settings.clickhouse), settings.clickhouse.database, codes=args.code,
                                    ids=args.ids, limit=args.limit)
    except ValueError as exc:
        print(f"error: {exc}. Known codes: {CODES}", file=sys.stderr)
        return 2
    if args.dry_run:
        for letter in letters:
            print(f"would redrive {letter.dead_letter_id} ({letter.error_code})")
        print(f"{len(letters)} dead letters selected")
        return 0
    producer = make_producer(settings.kafka.bootstrap_servers)
    read_record, close_reader = deadletters.record_reader(settings.kafka.bootstrap_servers)
    try:
        sent = deadletters.redrive(letters, producer=producer, read_record=read_record)
    finally:
        producer.close(timeout=10)
        close_reader()
    topics = ", ".join(sorted({letter.source_topic for letter in letters}))
    print(f"redriven {sent}/{len(letters)} to the topics they failed on ({topics})")
    return 0 if sent == len(letters) else 1
